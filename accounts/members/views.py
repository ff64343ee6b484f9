"""The member's web pages that belong to accounts: landing, dashboard shell, settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.members import services
from accounts.members.access import member_of
from accounts.members.forms import PrivacyForm, ProfileForm
from accounts.members.models import User
from accounts.members.selectors import profile_completeness


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "landing.html")


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    profile_form = ProfileForm(instance=me, prefix="profile")
    privacy_form = PrivacyForm(instance=me, prefix="privacy")
    if request.method == "POST":
        form: ProfileForm | PrivacyForm
        if request.POST.get("form") == "profile":
            form = profile_form = ProfileForm(request.POST, request.FILES, instance=me, prefix="profile")
        else:
            form = privacy_form = PrivacyForm(request.POST, instance=me, prefix="privacy")
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            # A fresh copy: ModelForm validation already wrote the values onto ``me``, and the
            # service must see what changed.
            services.user_update_profile(user=User.objects.get(pk=me.pk), data=data)
            messages.success(request, "Saved.")
            return redirect("settings")
    return render(
        request,
        "accounts/settings.html",
        {
            "profile_form": profile_form,
            "privacy_form": privacy_form,
            "completeness": profile_completeness(user=me),
        },
    )
