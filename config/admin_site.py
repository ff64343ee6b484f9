"""Credo's admin site: moderators (the ``Moderators`` group) may use it without being staff.

Every account that enters it has passed two factors (``accounts.auth.second_factor``): the
admin's own password form is not a way in; its login page sends to allauth's, which asks for the
second factor, and every admin page sends a session without one to enrol or confirm a code.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts.auth.second_factor import admin_gate
from accounts.members.moderators import is_moderator


class CredoAdminSite(admin.AdminSite):
    site_header = "Credo moderation"
    site_title = "Credo admin"
    index_title = "Moderation"

    def has_permission(self, request: HttpRequest) -> bool:
        """Entering the admin grants nothing by itself: a moderator still sees and does only
        what the group's model permissions allow."""
        return is_moderator(request.user)

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        protected = super().admin_view(view, cacheable)
        if getattr(view, "__name__", "") == "logout":
            return protected  # logging out needs no second factor

        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return admin_gate(request) or protected(request, *args, **kwargs)

        gated.__dict__.update(protected.__dict__)  # csrf_exempt and the like
        return gated

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One way in: allauth's login (lockout, rate limits, the second factor), then back here.
        A member who cannot enter the admin is refused (403), not sent round in a loop."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            next_url = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if not self.has_permission(request):
                raise PermissionDenied
            return admin_gate(request) or HttpResponseRedirect(next_url)
        login_url = resolve_url(settings.LOGIN_URL)
        return HttpResponseRedirect(f"{login_url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
