"""Members waiting for batch work, collected in Redis sets: events to score, bases to fold in.

In services mode the ingestion API does not send a Celery task per request: it adds the
members to one Redis set (SADD, one round trip after commit), and the periodic
``score_dirty_members`` task takes up to ``BATCH`` of them at a time (SPOP is atomic, so two
workers never take the same member) and scores them together — DESIGN.md §11: a task costs
≈ 1 ms, so hundreds of events per second need tasks that take batches. Nothing depends on the
set for safety: events stay ``pending`` in the database until scored, and the sweeper
re-enqueues any left behind (a lost SADD, a Redis restart).

The same goes for friend contagion: every scoring batch enqueues a ``contagion_bases_sync``
task for its members and also adds them to a second set (``contagion_mark``); the first task
to run takes the whole set (``contagion_take``), so a worker that fell behind folds the backlog
in as ONE batch (a global solve costs about the same for 500 members as for 20,000) and the
tasks behind it find their members already done. Each task still carries its own members, so a
lost SADD or a task that failed after taking the set loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "credo:scoring:dirty"
BATCH = 500
CONTAGION_KEY = "credo:contagion:bases"
#: The most members one contagion task folds in (a global solve's arrays stay small beside it).
CONTAGION_BATCH = 20_000

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def members_mark(member_ids: Iterable[int]) -> None:
    """Queue these members for scoring (after commit). A Redis error is logged, not raised: the
    events are safe in the database and the sweeper picks them up."""
    _mark(KEY, member_ids, "scoring; the sweeper will")


def members_take(limit: int = BATCH) -> list[int]:
    """Up to ``limit`` queued members, removed from the set atomically."""
    return _take(KEY, limit)


def contagion_mark(member_ids: Iterable[int]) -> None:
    """These members' bases moved (after commit; their own task is enqueued too)."""
    _mark(CONTAGION_KEY, member_ids, "contagion; their own task still will")


def contagion_take() -> list[int]:
    """Up to ``CONTAGION_BATCH`` members whose bases wait to be folded in, removed atomically;
    on a Redis error, none (the caller's own members still go)."""
    try:
        return _take(CONTAGION_KEY, CONTAGION_BATCH)
    except redis.RedisError:
        logger.exception("could not take the contagion backlog; folding in the task's own members")
        return []


def _mark(key: str, member_ids: Iterable[int], fallback: str) -> None:
    ids = [int(m) for m in member_ids]
    if not ids:
        return
    try:
        client().sadd(key, *ids)
    except redis.RedisError:
        logger.exception("could not queue %d member(s) for %s", len(ids), fallback)


def _take(key: str, limit: int) -> list[int]:
    taken: list[bytes] = client().spop(key, limit) or []  # type: ignore[assignment]
    return sorted(int(m) for m in taken)
