"""The notifications page: the feed (unread marked), mark all read, per-kind mutes."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from accounts.notifications import feed as notifications


class MutesForm(forms.Form):
    muted = forms.MultipleChoiceField(
        label="Do not notify me about", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(k, notifications.Kind(k).label) for k in notifications.MUTABLE],
    )


@login_required
def notifications_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    form = MutesForm(request.POST or None, initial={"muted": notifications.muted_kinds(member_id=me.pk)})
    if request.method == "POST" and form.is_valid():
        notifications.notification_mutes_set(member_id=me.pk, kinds=form.cleaned_data["muted"])
        messages.success(request, "Saved: you will not be notified about the kinds you ticked.")
        return redirect("notifications")
    try:
        page = notifications.feed_page(member_id=me.pk, cursor=request.GET.get("cursor", ""), limit=30)
    except notifications.InvalidCursor:
        return redirect("notifications")
    return render(request, "accounts/notifications.html", {
        "items": page.items, "next_cursor": page.next_cursor, "form": form,
        "always_on": [notifications.Kind(k).label for k in sorted(notifications.UNMUTABLE)],
    })


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark everything read, then back to ``next`` (a page of this site) or the feed."""
    notifications.notifications_mark_read(member_id=member_of(request).pk)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("notifications")
