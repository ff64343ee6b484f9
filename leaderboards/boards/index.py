"""The hot index: Redis sorted sets (services mode only; DESIGN.md §4, §11).

Keys (``LEADERBOARDS_REDIS_PREFIX``, default ``credo:lb``):

* ``<p>:all``              every listed member (the friends boards read it with ZMSCORE)
* ``<p>:global``           listed members who opted in to the global board
* ``<p>:weekly:<season>``  weekly points of listed, opted-in members in that season
* ``<p>:card``             hash: member → ``"<score>:<reached µs>:<band>:<username>"`` of every
                           member with a score (``""`` without one), written in the same pipeline
                           as the sorted sets, so the friends board needs no database query
* ``<p>:friends:<id>``     set: the member and their friends (a cache of the friend graph, read
                           by the friends board; dropped on ``friendship_started/ended``, expires)
* ``<p>:friends-gen:<id>`` rises on each drop, so a reader that loaded the friend list from the
                           database before a change cannot store it after the change
* ``<p>:ready``            sentinel: present once a rebuild finished. Redis lost it (restart,
                           flush, eviction) → readers use the database and a rebuild starts.
* ``<p>:version``          rises on every write: the REST ``seq`` of a board
* ``<p>:lock:rebuild``     one rebuild at a time

Members are zero-padded ids, scores the composite of ``ranking``. Every write is
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

from config.kernel.chunks import chunks
from leaderboards.boards.ranking import SPAN, Cursor, Item, decode, encode, lowest_with, member_key

logger = logging.getLogger(__name__)

#: The index's Redis connection: seconds to wait for an answer, for a new connection, and
#: between health checks of an idle pooled one.
SOCKET_TIMEOUT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 2
HEALTH_CHECK_SECONDS = 30
#: How long a rebuild holds its lock (a rebuild that died frees it after this).
REBUILD_LOCK_SECONDS = 600
#: Members a rebuild reads from the database, and writes to a board, at a time.
REBUILD_CHUNK = 10_000
#: Keys per SCAN step and per DEL, and members per command inside the Lua scripts (``unpack``
#: has a stack limit).
KEYS_AT_ONCE = 1_000
#: ``RedisSource.after`` reads this many items beyond the page at a time (items tied with the
#: cursor's are skipped, so a page may need more than its length).
AFTER_SLACK = 16
#: A cached friend list lives this long (its drop on friendship_started/ended is what keeps it
#: right; the expiry bounds what a friendship written behind the services' back costs).
FRIENDS_TTL_SECONDS = 3_600
FRIENDS_GEN_TTL_SECONDS = 2 * 86_400
#: A closed season's weekly key lingers this long (the database serves past seasons).
CLOSED_SEASON_TTL_SECONDS = 86_400


def redis_url() -> str:
    """The index's Redis, or "" in embedded mode (the database serves the boards)."""
    return settings.LEADERBOARDS_REDIS_URL if settings.SERVICES_MODE else ""


def enabled() -> bool:
    return bool(redis_url())


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
                                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                health_check_interval=HEALTH_CHECK_SECONDS)


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
    def cards(self) -> str:
        return f"{self.prefix}:card"

    def friends(self, member_id: int) -> str:
        return f"{self.prefix}:friends:{member_id}"

    def friends_gen(self, member_id: int) -> str:
        return f"{self.prefix}:friends-gen:{member_id}"

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
    username: str = ""
    band: str = ""

    @property
    def card(self) -> str:
        return card(self.value, self.reached, self.band, self.username)


def card(value: int | None, reached: int, band: str | None, username: str) -> str:
    """What the friends board shows of a member (``""``: no score yet)."""
    return "" if value is None else f"{value}:{reached}:{band or ''}:{username}"


def apply(states: Sequence[MemberState], *, season_id: int | None) -> int:
    """Write these members' places in one pipeline; return the new index version.

    One command per board and kind (add, remove) for the whole batch, not one per member: a
    contagion batch moves thousands of members at once. A member given twice: the last wins.
    """
    k = keys()
    boards = [k.all, k.global_] + ([k.weekly(season_id)] if season_id is not None else [])
    adds: dict[str, dict[str, float]] = {board: {} for board in boards}
    removes: dict[str, set[str]] = {board: set() for board in boards}

    def place(board: str, name: str, value: float | None) -> None:
        if value is None:
            adds[board].pop(name, None)
            removes[board].add(name)
        else:
            removes[board].discard(name)
            adds[board][name] = value

    cards: dict[Any, str] = {}  # member key → card (Any: redis-py types its keys as a wide union)
    for state in states:
        name = member_key(state.member_id)
        cards[name] = state.card
        value = encode(state.value, state.reached) if state.value is not None else None
        place(k.all, name, value if state.listed else None)
        place(k.global_, name, value if state.on_global else None)
        if season_id is not None:
            weekly = state.weekly if state.weekly is not None and state.weekly[0] == season_id else None
            place(k.weekly(season_id), name,
                  encode(weekly[1], weekly[2]) if state.on_global and weekly is not None else None)
    pipe = client().pipeline(transaction=False)
    if cards:
        pipe.hset(k.cards, mapping=cards)
    for board in boards:
        if adds[board]:
            pipe.zadd(board, adds[board])
        if removes[board]:
            pipe.zrem(board, *removes[board])
    pipe.incr(k.version)
    return int(pipe.execute()[-1])


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


def replace(*, boards: dict[str, Iterable[tuple[int, int, int]]], chunk: int = REBUILD_CHUNK,
            cards: Iterable[tuple[int, str]] | None = None) -> int:
    """Swap whole boards for new contents: ``{key: [(member_id, value, reached µs), ...]}``,
    and with ``cards`` (``[(member_id, card), ...]``) the card hash.

    Each board is written to a temporary key in pipelined chunks and renamed over the live
    key at once (MULTI), with the sentinel, so readers never see half a board.
    Returns how many members were written (to the boards).
    """
    r = client()
    k = keys()
    written = 0
    filled: dict[str, bool] = {}
    if cards is not None:
        tmp = f"{k.cards}:rebuilding"
        r.delete(tmp)
        filled[k.cards] = False
        fields: dict[str, str] = {}
        for member_id, text in cards:
            fields[member_key(member_id)] = text
            if len(fields) >= chunk:
                r.hset(tmp, mapping=fields)  # type: ignore[arg-type]
                filled[k.cards], fields = True, {}
        if fields:
            r.hset(tmp, mapping=fields)  # type: ignore[arg-type]
            filled[k.cards] = True
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
    names = list(r.scan_iter(match=f"{keys().prefix}:*", count=KEYS_AT_ONCE))
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
            flat = r.zrevrangebyscore(self.key, bound, "-inf", start=skip, num=limit + AFTER_SLACK, withscores=True)
            batch = [Item(int(m), *decode(float(s))) for m, s in flat]  # type: ignore[str-unpack,misc]
            skip += len(batch)
            fetched.extend(i for i in batch if i.order > cursor.order)
            if len(fetched) >= limit or len(batch) < limit + AFTER_SLACK:
                break
        items = fetched[:limit]
        if not items:
            return Window([], 0, 0)
        pipe = r.pipeline(transaction=False)
        pipe.zrevrank(self.key, member_key(items[0].member_id))
        pipe.zcount(self.key, lowest_with(items[0].value + 1), "+inf")
        position, greater = pipe.execute()
        return Window(items, int(greater), int(position or 0))


# --- the friends board: one round trip -------------------------------------------------------------

# KEYS: friends set, all, card, ready, version, friends-gen. ARGV[1] the member's own name, then
# optionally the names to read instead of the cached set (after a miss). Returns {0} when the
# index is not ready; {1, gen} when the friend list is not cached; else {2, version, rows}: ONE
# string of the rows worth returning (the member, listed friends — those on ``all`` — and anyone
# without a card), "name US card-or-?" joined by RS. One string, because parsing thousands of
# RESP elements costs more Python than the whole board (redis-py without hiredis); ZMSCORE/HMGET
# go by chunks because unpack() has a stack limit.
_FRIENDS_READ = rf"""
if redis.call('EXISTS', KEYS[4]) == 0 then return {{0}} end
local me = ARGV[1]
local ids
if #ARGV > 1 then
  ids = {{unpack(ARGV, 2)}}
else
  ids = redis.call('SMEMBERS', KEYS[1])
  if #ids == 0 then return {{1, redis.call('GET', KEYS[6]) or '0'}} end
end
local rows = {{}}
for i = 1, #ids, {KEYS_AT_ONCE} do
  local last = math.min(i + {KEYS_AT_ONCE - 1}, #ids)
  local s = redis.call('ZMSCORE', KEYS[2], unpack(ids, i, last))
  local c = redis.call('HMGET', KEYS[3], unpack(ids, i, last))
  for j = 1, last - i + 1 do
    local name = ids[i + j - 1]
    if s[j] or c[j] == false or name == me then
      rows[#rows + 1] = name .. '\31' .. (c[j] or '?')
    end
  end
end
return {{2, redis.call('GET', KEYS[5]) or '0', table.concat(rows, '\30')}}
"""

# KEYS: friends set, friends-gen. ARGV[1] the generation read before loading the list from the
# database, ARGV[2] ttl, ARGV[3..] the names. Stores nothing if the list changed meanwhile.
_FRIENDS_STORE = f"""
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, {KEYS_AT_ONCE} do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + {KEYS_AT_ONCE - 1}, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class NotReady(Exception):
    """The index is incomplete (no sentinel): read the database."""


@dataclass(frozen=True)
class FriendsRead:
    version: int
    #: ``[(member_id, card or None when it has none)]``: the member themself, their listed
    #: friends, and friends without a card (an index written before cards existed).
    rows: list[tuple[int, str | None]]


@lru_cache(maxsize=8)
def _scripts(url: str) -> tuple[Any, Any]:
    r = _client(url)
    return r.register_script(_FRIENDS_READ), r.register_script(_FRIENDS_STORE)


def _friends_keys(k: Keys, member_id: int) -> list[str]:
    return [k.friends(member_id), k.all, k.cards, k.ready, k.version, k.friends_gen(member_id)]


def friends_read_script() -> Any:
    """The registered Lua script behind ``friends_read`` (a redis-py ``Script``) on the
    configured Redis. Call it with ``keys=friends_read_keys(member_id)`` and
    ``args=[member_key(member_id)]``; it returns the raw reply described above ``_FRIENDS_READ``.
    For measuring the one round trip alone (bench/bench_leaderboards.py)."""
    return _scripts(redis_url())[0]


def friends_read_keys(member_id: int) -> list[str]:
    """The keys ``friends_read_script`` takes for this member, in the configured key space."""
    return _friends_keys(keys(), member_id)


def _friends_rows(raw: list[Any]) -> FriendsRead:
    blob = raw[2].decode()
    rows: list[tuple[int, str | None]] = []
    for row in blob.split("\x1e") if blob else ():
        name, text = row.split("\x1f", 1)
        rows.append((int(name), None if text == "?" else text))
    return FriendsRead(int(raw[1]), rows)


def friends_read(member_id: int, load: Any) -> FriendsRead:
    """The member and their friends as the index has them: one round trip when their friend
    list is cached. ``load()`` gives the friend ids from the database on a miss (the member's own
    id is added here). Raises ``NotReady``."""
    read, store = _scripts(redis_url())
    k = keys()
    me = member_key(member_id)
    raw = read(keys=_friends_keys(k, member_id), args=[me])
    if raw[0] == 0:
        raise NotReady()
    if raw[0] == 2:
        return _friends_rows(raw)
    gen = raw[1]
    names = [member_key(m) for m in sorted({member_id, *load()})]
    pipe = client().pipeline(transaction=False)
    store(keys=[k.friends(member_id), k.friends_gen(member_id)], args=[gen, FRIENDS_TTL_SECONDS, *names],
          client=pipe)
    read(keys=_friends_keys(k, member_id), args=[me, *names], client=pipe)
    _, raw = pipe.execute()
    if raw[0] == 0:
        raise NotReady()
    return _friends_rows(raw)


def friends_forget(member_ids: Iterable[int]) -> None:
    """These members' friend lists changed: drop the cached ones (one pipeline)."""
    k = keys()
    pipe = client().pipeline(transaction=False)
    for member_id in member_ids:
        pipe.incr(k.friends_gen(member_id))
        pipe.expire(k.friends_gen(member_id), FRIENDS_GEN_TTL_SECONDS)
        pipe.delete(k.friends(member_id))
    pipe.execute()


def friends_forget_all() -> None:
    """Drop every cached friend list (a rebuild; a friendship written behind the services)."""
    r = client()
    names = list(r.scan_iter(match=f"{keys().prefix}:friends:*", count=KEYS_AT_ONCE))
    for chunk in chunks(names, KEYS_AT_ONCE):
        r.delete(*chunk)
