"""A frozen member may read the API (to see why) but not write to it (DESIGN.md §10).

``NotFrozen`` is one of the API's default permission classes. A view that a frozen member must
still be able to use for writing (log out, export my data) lists its permissions explicitly.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

ACCOUNT_FROZEN = "account_frozen"
FROZEN_DETAIL = "Your account is frozen by a moderator: you can read, but not change anything."


class NotFrozen(BasePermission):
    message = FROZEN_DETAIL
    code = ACCOUNT_FROZEN

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return not getattr(request.user, "is_frozen", False)
