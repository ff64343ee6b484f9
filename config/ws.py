"""WebSocket origin check.

Browsers always send an ``Origin`` header on a WebSocket handshake; it must name one of our
hosts, or the handshake is refused (HTTP 403) — that stops another site from opening a socket
with a member's session cookie. Native mobile clients send no ``Origin``; they are let through
to the consumer, which then requires a single-use ticket (they have no session cookie).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)

    def match_allowed_origin(self, parsed_origin: ParseResult, pattern: str) -> bool:
        if pattern.startswith(("http://", "https://")):
            return super().match_allowed_origin(parsed_origin, pattern)
        # A bare host pattern (from ALLOWED_HOSTS): compare the hostname, any scheme and port.
        from django.utils.http import is_same_domain

        hostname = parsed_origin.hostname
        return bool(hostname) and is_same_domain(hostname or "", pattern)


def allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts + list(settings.WEBSOCKET_ALLOWED_ORIGINS)


def origin_checked(app: Any) -> BrowserOriginValidator:
    return BrowserOriginValidator(app, allowed_origins())
