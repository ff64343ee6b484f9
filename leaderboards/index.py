"""The hot index: Redis sorted sets (services mode only; DESIGN.md §4, §11).

Keys (``LEADERBOARDS_REDIS_PREFIX``, default ``credo:lb``):

* ``<p>:all``              every listed member (the friends boards read it with ZMSCORE)
* ``<p>:global``           listed members who opted in to the global board
* ``<p>:weekly:<season>``  weekly points of listed, opted-in members in that season
* ``<p>:ready``            sentinel: present once a rebuild finished. Redis lost it (restart,
                           flush, eviction) → readers use the database and a rebuild starts.
* ``<p>:version``          rises on every write: the REST ``seq`` of a board
* ``<p>:lock:rebuild``     one rebuild at a time

Members are zero-padded ids, scores the composite of ``leaderboards.ranking``. Every write is
one pipeline; every read one or two round trips (Lua for "window" and "locate").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

from leaderboards.ranking import SPAN, Cursor, Item, decode, encode, lowest_with, member_key

logger = logging.getLogger(__name__)

REBUILD_LOCK_SECONDS = 600
#: A closed season's weekly key lingers this long (the database serves past seasons).
CLOSED_SEASON_TTL_SECONDS = 86_400


def redis_url() -> str:
    """The index's Redis, or "" in embedded mode (the database serves the boards)."""
    return settings.LEADERBOARDS_REDIS_URL if settings.SERVICES_MODE else ""


def enabled() -> bool:
    return bool(redis_url())


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def client() -> redis.Redis:
    return _client(redis_url())


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def all(self) -> str:
        return f"{self.prefix}:all"

    @property
    def global_(self) -> str:
        return f"{self.prefix}:global"

    def weekly(self, season_id: int) -> str:
        return f"{self.prefix}:weekly:{season_id}"

    @property
    def ready(self) -> str:
        return f"{self.prefix}:ready"

    @property
    def version(self) -> str:
        return f"{self.prefix}:version"

    @property
    def lock(self) -> str:
        return f"{self.prefix}:lock:rebuild"


def keys() -> Keys:
    return Keys(settings.LEADERBOARDS_REDIS_PREFIX)


# --- writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberState:
    """What the index needs of one member, read from the database (the truth)."""

    member_id: int
    value: int | None  # score
    reached: int  # µs since EPOCH
    listed: bool
    on_global: bool
    weekly: tuple[int, int, int] | None = None  # (season id, points, reached µs)


def apply(states: Sequence[MemberState], *, season_id: int | None) -> int:
    """Write these members' places in one pipeline; return the new index version."""
    k = keys()
    pipe = client().pipeline(transaction=False)
    for state in states:
        name = member_key(state.member_id)
        if state.listed and state.value is not None:
            pipe.zadd(k.all, {name: encode(state.value, state.reached)})
        else:
            pipe.zrem(k.all, name)
        if state.on_global and state.value is not None:
            pipe.zadd(k.global_, {name: encode(state.value, state.reached)})
        else:
            pipe.zrem(k.global_, name)
        if season_id is not None:
            if state.on_global and state.weekly is not None and state.weekly[0] == season_id:
                pipe.zadd(k.weekly(season_id), {name: encode(state.weekly[1], state.weekly[2])})
            else:
                pipe.zrem(k.weekly(season_id), name)
    pipe.incr(k.version)
    return int(pipe.execute()[-1])


def remove(key: str, member_ids: Iterable[int]) -> None:
    names = [member_key(m) for m in member_ids]
    if names:
        client().zrem(key, *names)


def season_closed(season_id: int) -> None:
    client().expire(keys().weekly(season_id), CLOSED_SEASON_TTL_SECONDS)


def is_ready() -> bool:
    return bool(client().exists(keys().ready))


def version() -> int:
    return int(client().get(keys().version) or 0)


def lock_rebuild() -> bool:
    return bool(client().set(keys().lock, "1", nx=True, ex=REBUILD_LOCK_SECONDS))


def unlock_rebuild() -> None:
    client().delete(keys().lock)


def replace(*, boards: dict[str, Iterable[tuple[int, int, int]]], chunk: int = 10_000) -> int:
    """Swap whole boards for new contents: ``{key: [(member_id, value, reached µs), ...]}``.

    Each board is written to a temporary key in pipelined chunks and renamed over the live
    key at once (MULTI), with the sentinel, so readers never see half a board.
    Returns how many members were written.
    """
    r = client()
    k = keys()
    written = 0
    filled: dict[str, bool] = {}
    for key, rows in boards.items():
        tmp = f"{key}:rebuilding"
        r.delete(tmp)
        filled[key] = False
        batch: dict[str, int] = {}
        for member_id, value, reached in rows:
            batch[member_key(member_id)] = encode(value, reached)
            if len(batch) >= chunk:
                r.zadd(tmp, batch)
                written += len(batch)
                filled[key] = True
                batch = {}
        if batch:
            r.zadd(tmp, batch)
            written += len(batch)
            filled[key] = True
    pipe = r.pipeline(transaction=True)
    for key, has_rows in filled.items():
        if has_rows:
            pipe.rename(f"{key}:rebuilding", key)
        else:
            pipe.delete(key)
    pipe.set(k.ready, "1")
    pipe.incr(k.version)
    pipe.execute()
    return written


def drop_all() -> None:
    """Forget the whole index (tests, and to simulate a Redis that lost its data)."""
    r = client()
    names = list(r.scan_iter(match=f"{keys().prefix}:*", count=1000))
    if names:
        r.delete(*names)


# --- reads ---------------------------------------------------------------------------------------

# KEYS[1] board; ARGV[1] start, ARGV[2] stop (ZREVRANGE indexes). Returns the items with their
# scores and how many members have a strictly greater value than the first one (its rank − 1).
_WINDOW = f"""
local items = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
if #items == 0 then return {{items, 0}} end
local v = math.floor(tonumber(items[2]) / {SPAN})
return {{items, redis.call('ZCOUNT', KEYS[1], (v + 1) * {SPAN}, '+inf')}}
"""

# KEYS[1] board; ARGV[1] member. Returns {position or -1, score, card, greater, less}.
_LOCATE = f"""
local card = redis.call('ZCARD', KEYS[1])
local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not r then return {{-1, '0', card, 0, 0}} end
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local v = math.floor(tonumber(s) / {SPAN})
local greater = redis.call('ZCOUNT', KEYS[1], (v + 1) * {SPAN}, '+inf')
local less = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. (v * {SPAN}))
return {{r, s, card, greater, less}}
"""


@dataclass(frozen=True)
class Located:
    position: int | None  # 0-based, None when not on the board
    value: int
    reached: int
    total: int
    greater: int
    less: int


@dataclass(frozen=True)
class Window:
    items: list[Item]
    greater_than_first: int
    first_position: int


def _items(flat: list[Any]) -> list[Item]:
    out = []
    for i in range(0, len(flat), 2):
        value, reached = decode(float(flat[i + 1]))
        out.append(Item(member_id=int(flat[i]), value=value, reached=reached))
    return out


class RedisSource:
    """One board's sorted set."""

    def __init__(self, key: str) -> None:
        self.key = key
        r = client()
        self._window = r.register_script(_WINDOW)
        self._locate = r.register_script(_LOCATE)

    def _located(self, raw: list[Any]) -> Located:
        position, score, total, greater, less = raw
        if int(position) < 0:
            return Located(None, 0, 0, int(total), 0, 0)
        value, reached = decode(float(score))
        return Located(int(position), value, reached, int(total), int(greater), int(less))

    def locate(self, member_id: int | None) -> Located:
        if member_id is None:
            return Located(None, 0, 0, int(client().zcard(self.key)), 0, 0)
        return self._located(self._locate(keys=[self.key], args=[member_key(member_id)]))

    def window(self, offset: int, limit: int, *, locate: int | None = None) -> tuple[Window, Located | None]:
        """Items at positions ``offset`` … ``offset + limit − 1``; with ``locate``, the same
        round trip also finds that member."""
        pipe = client().pipeline(transaction=False)
        self._window(keys=[self.key], args=[offset, offset + limit - 1], client=pipe)
        if locate is not None:
            self._locate(keys=[self.key], args=[member_key(locate)], client=pipe)
        results = pipe.execute()
        flat, greater = results[0]
        located = self._located(results[1]) if locate is not None else None
        return Window(_items(flat), int(greater), offset), located

    def after(self, cursor: Cursor, limit: int) -> Window:
        """Up to ``limit`` items strictly after ``cursor`` in board order."""
        r = client()
        bound = encode(cursor.value, cursor.reached)
        fetched: list[Item] = []
        skip = 0
        while True:
            flat = r.zrevrangebyscore(self.key, bound, "-inf", start=skip, num=limit + 16, withscores=True)
            batch = [Item(int(m), *decode(float(s))) for m, s in flat]  # type: ignore[str-unpack,misc]
            skip += len(batch)
            fetched.extend(i for i in batch if i.order > cursor.order)
            if len(fetched) >= limit or len(batch) < limit + 16:
                break
        items = fetched[:limit]
        if not items:
            return Window([], 0, 0)
        pipe = r.pipeline(transaction=False)
        pipe.zrevrank(self.key, member_key(items[0].member_id))
        pipe.zcount(self.key, lowest_with(items[0].value + 1), "+inf")
        position, greater = pipe.execute()
        return Window(items, int(greater), int(position or 0))

    def scores(self, member_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """ZMSCORE: ``{member_id: (value, reached)}`` of those on this board (friends boards)."""
        if not member_ids:
            return {}
        raw = client().zmscore(self.key, [member_key(m) for m in member_ids])
        return {m: decode(s) for m, s in zip(member_ids, raw, strict=True) if s is not None}

    def remove(self, member_ids: Iterable[int]) -> None:
        remove(self.key, member_ids)
