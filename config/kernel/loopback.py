"""DEBUG answers this machine only.

Django's debug pages print the settings (``REDIS_URL``, database URLs) to whoever triggers an
error. ``config.settings.local`` is the only settings module that can turn DEBUG on, and with it
on, this middleware (first in the chain) refuses every request whose peer is not a loopback
address: a development server started on ``0.0.0.0`` by mistake shows nothing to the network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


class LoopbackOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_loopback(request.META.get("REMOTE_ADDR")):
            return HttpResponseForbidden(
                "This is a development server (DEBUG is on): it answers 127.0.0.1 only.",
                content_type="text/plain")
        return self.get_response(request)
