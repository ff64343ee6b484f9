"""Members' web pages for their data: see and download exports, delete the account."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from accounts.privacy import services as privacy
from accounts.privacy.errors import PrivacyCode
from accounts.privacy.models import DataExport
from config.kernel.errors import DomainError


class DeleteForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, strip=False, help_text="Your current password.")
    confirm = forms.BooleanField(label="I understand this cannot be undone.")


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    exports = []
    for e in privacy.exports_of(member=me):
        url = None
        if e.status == DataExport.Status.READY and e.expires_at and e.expires_at > timezone.now():
            url = f"{reverse('api-my-export-download', args=[e.pk])}?sig={privacy.data_export_signature(e)}"
        exports.append({"export": e, "url": url})
    return render(request, "accounts/privacy/my_data.html", {"exports": exports})


@login_required
@require_POST
def data_export(request: HttpRequest) -> HttpResponse:
    try:
        privacy.data_export_request(member=member_of(request))
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Your export is being prepared; it appears below when ready (valid for a day).")
    return redirect("my-data")


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = privacy.member_delete(member=member_of(request), password=form.cleaned_data["password"],
                                           confirm=form.cleaned_data["confirm"])
        except DomainError as exc:
            form.add_error("password" if exc.code == PrivacyCode.WRONG_PASSWORD else None, exc.detail)
        else:
            logout(request)
            return render(request, "accounts/privacy/account_deleted.html", result)
    return render(request, "accounts/privacy/account_delete.html",
                  {"form": form, "removed": privacy.REMOVED, "kept": privacy.KEPT})

