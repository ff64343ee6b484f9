"""allauth's adapter: the client's address is the one every other limit uses."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from config.kernel.client_ip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """``config.kernel.client_ip`` (``TRUSTED_PROXIES``), for allauth's rate limits: never the
        raw ``X-Forwarded-For`` (allauth's own reading raises a 500 when the header has fewer
        entries than the proxy count)."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
