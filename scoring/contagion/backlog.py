"""Members whose bases moved and wait to be folded into friend contagion, in a Redis set.

In services mode every scoring batch enqueues a ``contagion_bases_sync`` task for its members
and also adds them to this set (``members_mark``); the first task to run takes the whole set
(``members_take``), so a worker that fell behind folds the backlog in as ONE batch (a global
solve costs about the same for 500 members as for 20,000) and the tasks behind it find their
members already done. Each task still carries its own members, so a lost SADD or a task that
failed after taking the set loses nothing. The Redis client is ingestion's (``dirty.client``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

from scoring.ingestion import dirty

logger = logging.getLogger(__name__)

KEY = "credo:contagion:bases"
#: The most members one contagion task folds in (a global solve's arrays stay small beside it).
BATCH = 20_000


def members_mark(member_ids: Iterable[int]) -> None:
    """These members' bases moved (after commit; their own task is enqueued too). A Redis error
    is logged, not raised: their own task still folds them in."""
    ids = [int(m) for m in member_ids]
    if not ids:
        return
    try:
        dirty.client().sadd(KEY, *ids)
    except redis.RedisError:
        logger.exception("could not queue %d member(s) for contagion; their own task still will", len(ids))


def members_take() -> list[int]:
    """Up to ``BATCH`` members whose bases wait to be folded in, removed atomically (SPOP); on a
    Redis error, none (the caller's own members still go)."""
    try:
        taken: list[bytes] = dirty.client().spop(KEY, BATCH) or []  # type: ignore[assignment]
    except redis.RedisError:
        logger.exception("could not take the contagion backlog; folding in the task's own members")
        return []
    return sorted(int(m) for m in taken)
