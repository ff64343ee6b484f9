"""django-axes hooks: which username a login attempt is for, and what a locked-out caller sees."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKOUT_STATUS = 429


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username of a login attempt, whichever form sent it.

    The admin and the API post ``username``; allauth's form posts ``login``.
    """
    if credentials:
        for key in ("username", "login"):
            if credentials.get(key):
                return str(credentials[key]).strip().lower()
    data = getattr(request, "data", None) or request.POST
    for key in ("username", "login"):
        value = data.get(key) if hasattr(data, "get") else None
        if value:
            return str(value).strip().lower()
    return None


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    detail = "Too many failed logins for this account from your address. Try again in 15 minutes."
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "detail": detail}, status=LOCKOUT_STATUS)
    return render(request, "account/lockout.html", {"detail": detail}, status=LOCKOUT_STATUS)
