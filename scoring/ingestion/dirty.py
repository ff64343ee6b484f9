"""Members waiting to be scored, collected in a Redis set.

In services mode the ingestion API does not send a Celery task per request: it adds the
members to one Redis set (SADD, one round trip after commit), and the periodic
``score_dirty_members`` task takes up to ``BATCH`` of them at a time (SPOP is atomic, so two
workers never take the same member) and scores them together — DESIGN.md §11: a task costs
≈ 1 ms, so hundreds of events per second need tasks that take batches. Nothing depends on the
set for safety: events stay ``pending`` in the database until scored, and the sweeper
re-enqueues any left behind (a lost SADD, a Redis restart). Friend contagion keeps its backlog
the same way (``scoring.contagion.backlog``), with the client made here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "credo:scoring:dirty"
BATCH = 500

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """The Redis client of the batch sets (here and in ``scoring.contagion.backlog``), made on
    first use from ``REDIS_URL``."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def members_mark(member_ids: Iterable[int]) -> None:
    """Queue these members for scoring (after commit). A Redis error is logged, not raised: the
    events are safe in the database and the sweeper picks them up."""
    ids = [int(m) for m in member_ids]
    if not ids:
        return
    try:
        client().sadd(KEY, *ids)
    except redis.RedisError:
        logger.exception("could not queue %d member(s) for scoring; the sweeper will", len(ids))


def members_take(limit: int = BATCH) -> list[int]:
    """Up to ``limit`` queued members, removed from the set atomically (SPOP)."""
    taken: list[bytes] = client().spop(KEY, limit) or []  # type: ignore[assignment]
    return sorted(int(m) for m in taken)
