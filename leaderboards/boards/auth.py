"""The boards' token authentication: knox's, with a lighter check for the hottest read."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from knox.auth import TokenAuthentication


class BoardTokenAuthentication(TokenAuthentication):
    """knox's token authentication for the hot board reads, minus its sweep of the member's
    OTHER tokens on every request (a second query per read: ``_cleanup_token`` lists all of the
    member's tokens). The presented token's own expiry is still checked; an expired one goes
    through knox's full clean-up. Every other endpoint keeps sweeping."""

    def _cleanup_token(self, auth_token: Any) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            return bool(super()._cleanup_token(auth_token))
        return False
