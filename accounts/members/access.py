"""Typing helpers for views behind login: ``request.user`` is a member there."""

from __future__ import annotations

from typing import Any

from accounts.members.models import User


def member_of(request: Any) -> User:
    """The signed-in member of a request that passed ``login_required`` / ``IsAuthenticated``."""
    user = request.user
    if not isinstance(user, User):  # AnonymousUser: the view forgot its guard
        raise TypeError("this view requires an authenticated member")
    return user
