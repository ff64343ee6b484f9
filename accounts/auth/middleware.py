"""The web pages' side of a freeze: a frozen member's form posts are refused (403), reads work.

The API has its own guard (``accounts.auth.permissions.NotFrozen``: token clients never pass through
a session). Logging out, the admin (a frozen moderator is still refused there by the admin's own
permission checks) and the pages a frozen member may still use (data export) stay open.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

#: Paths a frozen member may still post to.
FROZEN_ALLOWED_PREFIXES = ("/accounts/logout/", "/api/", "/admin/", "/settings/data/export/")


class FrozenMemberMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and getattr(user, "is_frozen", False)
            and not request.path.startswith(FROZEN_ALLOWED_PREFIXES)
        ):
            response = TemplateResponse(request, "accounts/frozen_refused.html", status=403)
            return response.render()
        return self.get_response(request)
