"""The API's throttles: DRF's, keyed on the real client (``client_ip``), rates read when used.

DRF reads ``X-Forwarded-For`` as the client's identity unless ``NUM_PROXIES`` is set, so a caller
rotating that header escapes every anonymous throttle; these classes take the address from
``config.kernel.client_ip`` instead. DRF also binds its rates when its module is imported; these
read ``DEFAULT_THROTTLE_RATES`` when a throttle is made, so a changed setting takes effect.

Scopes (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``): ``anon`` per address, ``user`` per member,
``auth`` per address on the views that take credentials or hand out tokens (their
``throttle_scope``), ``partner_refused`` per address on signed requests that fail to authenticate.
"""

from __future__ import annotations

from typing import Any

from rest_framework import throttling
from rest_framework.settings import api_settings

from config.kernel.client_ip import client_ip


class _ClientKeyed:
    scope: str | None

    def get_ident(self, request: Any) -> str:
        return client_ip(request) or "unknown"

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)


class AnonThrottle(_ClientKeyed, throttling.AnonRateThrottle):
    pass


class UserThrottle(_ClientKeyed, throttling.UserRateThrottle):
    pass


class ScopedThrottle(_ClientKeyed, throttling.ScopedRateThrottle):
    """A view's own ``throttle_scope`` (e.g. ``auth``), per member or per address."""


class RefusalThrottle(_ClientKeyed, throttling.SimpleRateThrottle):
    """Counts refusals per address, not requests: a caller whose requests keep failing to
    authenticate (no signature, unknown or revoked key, wrong signature) is refused outright once
    over the rate, while a well-behaved caller is never counted. ``blocked`` reads, ``record``
    counts one refusal (both keyed on the client's address)."""

    num_requests: int
    duration: int

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked(self, request: Any) -> float | None:
        """Seconds to wait if this address is over the rate, else None (counts nothing)."""
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return (self.wait() or 1.0) if len(self.history) >= self.num_requests else None

    def record(self, request: Any) -> None:
        if self.rate is None:
            return
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        self.cache.set(self.key, [self.now, *history], self.duration)
