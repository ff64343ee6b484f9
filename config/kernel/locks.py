"""Members' rows, locked in one order.

Every writer that must serialise on members (scoring, friendships, challenges, moderation,
deletion) locks their ``accounts_user`` rows here, each call ascending by id, so two writers that
each lock their whole set in one call never wait on each other in a cycle. A writer that locks
again later in the same transaction (deletion locks the member, then the member's friends) can
still meet one that locks in the other order; lock the whole set at once where possible. Call
inside ``transaction.atomic``.
The model comes from ``get_user_model()``: the kernel imports no app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model


def member_lock(member_id: int) -> Any:
    """The member's row, locked ``FOR UPDATE`` (``DoesNotExist`` if there is none)."""
    return get_user_model().objects.select_for_update().get(pk=member_id)


def members_lock(member_ids: Iterable[int]) -> list[Any]:
    """The members' rows, locked ``FOR UPDATE`` in ascending id order (unknown ids are skipped)."""
    ids = sorted(set(member_ids))
    return list(get_user_model().objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def member_ids_lock(member_ids: Iterable[int]) -> list[int]:
    """Like ``members_lock`` when only the lock matters: the locked ids, without loading the rows."""
    ids = sorted(set(member_ids))
    return list(get_user_model().objects.select_for_update().filter(pk__in=ids).order_by("pk")
                .values_list("pk", flat=True))
