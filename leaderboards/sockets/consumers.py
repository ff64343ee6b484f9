"""The live leaderboard consumer: ``/ws/leaderboards/`` (DESIGN.md §5, §8).

Auth happens before (session via ``AuthMiddlewareStack``, ``?ticket=`` via
``leaderboards.auth.TicketAuthMiddleware``; the origin check in ``config.ws``). Anonymous sockets
get an ``error`` and close with ``CloseCode.NOT_AUTHENTICATED`` (4401); a bad ticket with
``CloseCode.TICKET_INVALID`` (4403).

Per subscribed board the consumer holds what its client shows and a ``seq`` (+1 per row message
to that client, starting at 1 with the first snapshot). The members a socket shows are watched
through its process's ``MemberFeed``, which joins each watched member's group (``lb.member.<id>``)
once per process and hands each ``member.changed`` to every socket showing that member; a change
marks the board dirty and a flush recomputes it — the friends board in memory, a global/weekly
window from the index — and sends one ``rank.changed`` per shown member whose rank or score moved,
or, to a client that asked for batches (``protocol`` docstring), all of them in one ``rank.batch``
frame. Flushes are coalesced: the first change after a quiet tick
(``LEADERBOARDS_LIVE_TICK_SECONDS``, 250 ms) goes out at once (leading edge), the rest of its
burst one tick after that flush, together. Nothing runs on a tick while nothing changes: a slow
timer refreshes boards from the index (lost messages), re-adds groups (a Redis that restarted
forgot them) and re-checks credentials (logged out elsewhere). The member's own score changes
become ``me.changed`` with the same coalescing (one per flush, before the boards' deltas). News
about the member themself (``lb.user.<id>``: friendships, logouts, ``client.push``) comes to the
socket's own channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from accounts.members.models import User
from leaderboards.boards import backends
from leaderboards.boards.ranking import Entry, Item, Move, RankedBoard
from leaderboards.live import broadcast, protocol
from leaderboards.live.protocol import CloseCode, ErrorCode, InternalType, MessageType

logger = logging.getLogger(__name__)

#: How many rows a live global/weekly board shows (a window around the member).
WINDOW = 25

#: One encoder for every frame (compact separators; ``json.dumps`` with options builds a new one per call).
encode = json.JSONEncoder(separators=(",", ":")).encode

#: The member's own score moved (sent to their sockets, whatever boards they show): always the same text.
ME_CHANGED_SCORE = encode({"type": MessageType.ME_CHANGED, "what": ["score"]})

#: Errors of a channel layer whose Redis is unreachable (restarting): wait and retry, never die.
LAYER_DOWN = (OSError, RedisError)
#: The feed's pause after any other error of a receive (it logs it and goes on).
FEED_ERROR_PAUSE_SECONDS = 0.5
#: Group joins the feed sends at once (each is one or two Redis round trips).
GROUP_ADDS_AT_ONCE = 100


def retrying(receive: Callable[[], Any]) -> Callable[[], Any]:
    """``receive`` (a channel layer's, for one channel) that waits out an unreachable Redis:
    it retries with a growing pause (0.25 s doubling to 5 s) instead of raising."""

    async def resilient() -> Any:
        delay = 0.25
        while True:
            try:
                return await receive()
            except LAYER_DOWN as exc:
                logger.warning("channel layer unreachable (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    return resilient


@dataclass(frozen=True, slots=True)
class Change:
    """One ``member.changed`` (``broadcast.member_changed``), read once per process."""

    member_id: int
    item: Item | None  # the member's row on friends boards; None: no longer listed (private, frozen)
    cause: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Change:
        member_id = event["member_id"]
        item = None
        if event.get("listed") and event.get("new_score") is not None:
            item = Item(member_id, event["new_score"], event["reached"], event["username"], event.get("band") or "")
        return cls(member_id, item, event.get("cause") or "change")


@dataclass
class Live:
    """One subscribed board: what its client shows, and what a flush needs to bring it up to date."""

    name: str
    members: set[int]  # the members whose changes concern this board (watched through the feed)
    board: RankedBoard | None = None  # friends: the whole board, ranked here
    window: dict[int, Entry] = field(default_factory=dict)  # global/weekly: rows read from the index
    season: dict | None = None
    total: int = 0
    my_rank: int | None = None
    seq: int = 0
    batch: bool = False  # one rank.batch frame per flush instead of a rank.changed frame per row
    dirty: bool = False
    causes: dict[int, str] = field(default_factory=dict)

    def shown(self) -> dict[int, Entry]:
        """The rows its client shows, by member id in board order."""
        return self.board.ordered() if self.board is not None else self.window

    def take(self, change: Change, *, me: int) -> bool:
        """Note ``change`` if this board shows its member (a friends board moves the row at once;
        a window is reloaded at the flush); False if the board does not show them."""
        member_id = change.member_id
        if member_id not in self.members:
            return False
        self.dirty = True
        self.causes[member_id] = change.cause
        if self.board is not None:
            if change.item is not None:
                self.board.put(change.item)
            elif member_id != me:
                self.board.remove(member_id)
        return True


def diff(old: Mapping[int, Entry], new: Mapping[int, Entry], *, me: int) -> list[Move]:
    """The rows that take a client from ``old`` to ``new`` (both by member id in board order), as
    ``RankedBoard.changes()`` gives them: each row whose rank or score moved or that entered, in
    the new board's order, then each row that left."""
    out: list[Move] = []
    for member_id, after in new.items():
        before = old.get(member_id)
        if before is None or before.rank != after.rank or before.score != after.score:
            out.append((before, after, passed_by(old, new, me=me) if member_id == me and before else []))
    out.extend((before, None, []) for member_id, before in old.items() if member_id not in new)
    return out


def passed_by(old: Mapping[int, Entry], new: Mapping[int, Entry], *, me: int) -> list[str]:
    """Who was below ``me`` on ``old`` and is above on ``new``, in the new board's order."""
    old_pos = {member_id: i for i, member_id in enumerate(old)}
    new_pos = {member_id: i for i, member_id in enumerate(new)}
    return [new[x].username for x in new_pos
            if x != me and x in old_pos and old_pos[x] > old_pos[me] and new_pos[x] < new_pos[me]]


def rank_changed(move: Move, *, board: str, seq: int, me: int, causes: Mapping[int, str]) -> dict[str, Any]:
    """The ``rank.changed`` message (DESIGN.md §8) of one moved row; ``passed_by`` on the
    member's own row when it was and still is on the board."""
    before, after, passed = move
    shown = after or before
    assert shown is not None
    message: dict[str, Any] = {
        "type": MessageType.RANK_CHANGED, "board": board, "seq": seq, "username": shown.username,
        "old_rank": before.rank if before else None, "new_rank": after.rank if after else None,
        "old_score": before.score if before else None, "new_score": after.score if after else None,
        "band": shown.band, "is_me": shown.member_id == me, "cause": causes.get(shown.member_id, "shift"),
    }
    if shown.member_id == me and before is not None and after is not None:
        message["passed_by"] = passed
    return message


# --- one feed of member changes per process ---------------------------------------------------------


class MemberFeed:
    """The members that one process's live sockets show, received ONCE per process.

    A change of a member with 24 online friends used to be 24 channel messages — one per friend's
    socket, each received, unpacked and dispatched by that socket's own task (≈ 30 µs of CPU
    each, a quarter of a busy ASGI process; docs/benchmarks.md). The feed joins each watched
    member's group (``lb.member.<id>``) once on its own channel, reads each ``member.changed``
    once (``Change``) and hands it to every socket showing that member with a plain call. Offline
    members still cost nothing: a group is left as soon as no socket of the process shows its
    member, and the feed stops with its last socket.

    One feed per event loop and channel layer (``for_layer``): an ASGI process runs one loop.
    Delivery stays at-most-once (both layers); the sockets' refresh timers repair what is lost.
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.watching: dict[LeaderboardConsumer, frozenset[int]] = {}  # socket → the members it shows
        self.watchers: dict[int, set[LeaderboardConsumer]] = {}  # member → the sockets showing them
        self.joined: set[int] = set()  # members whose group the feed's channel is in
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.groups_lock = asyncio.Lock()  # one reconciliation of the groups at a time
        self.stopped = False

    @classmethod
    def for_layer(cls, layer: Any) -> MemberFeed:
        loop = asyncio.get_running_loop()
        feed = _feeds.get(loop)
        if feed is None or feed.layer is not layer or feed.stopped:
            feed = _feeds[loop] = cls(layer)
        return feed

    # --- what the sockets watch ---

    async def watch(self, consumer: LeaderboardConsumer, members: Iterable[int]) -> None:
        """From now on ``consumer`` gets the changes of ``members`` (and only theirs); returns once
        their groups are joined (or, when Redis is unreachable, left to the next regroup)."""
        assert not self.stopped, "a stopped feed watches nothing"
        wanted = frozenset(members)
        before = self.watching.get(consumer, frozenset())
        self.watching[consumer] = wanted
        for member_id in wanted - before:
            self.watchers.setdefault(member_id, set()).add(consumer)
        self._forget(consumer, before - wanted)
        if not self.tasks:
            try:
                await self._start()
            except BaseException:
                await self.unwatch(consumer)  # e.g. no channel without Redis: nothing to leak
                raise
        await self._sync_groups()

    async def unwatch(self, consumer: LeaderboardConsumer) -> None:
        """``consumer`` is gone: it gets nothing more; the feed stops with its last socket."""
        if consumer not in self.watching:
            return
        self._forget(consumer, self.watching.pop(consumer))
        if self.watching:
            await self._sync_groups()
        elif not self.stopped:
            await self._stop()

    def _forget(self, consumer: LeaderboardConsumer, members: Iterable[int]) -> None:
        for member_id in members:
            watchers = self.watchers.get(member_id)
            if watchers is not None:
                watchers.discard(consumer)
                if not watchers:
                    del self.watchers[member_id]

    # --- the channel and its groups ---

    async def _start(self) -> None:
        async with self.groups_lock:
            if self.tasks or self.stopped:
                return
            self.channel = await self.layer.new_channel()
            self.tasks = [asyncio.create_task(self._receive_loop()), asyncio.create_task(self._regroup_loop()),
                          asyncio.create_task(self._recheck_loop())]

    async def _stop(self) -> None:
        self.stopped = True
        loop = asyncio.get_running_loop()
        if _feeds.get(loop) is self:
            del _feeds[loop]
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self.groups_lock:
            if self.channel is not None:
                for member_id in sorted(self.joined):
                    with contextlib.suppress(Exception):
                        await self.layer.group_discard(broadcast.member_group(member_id), self.channel)
            self.joined = set()

    async def _sync_groups(self, *, readd: bool = False) -> None:
        """Join the groups of the watched members, leave the others; ``readd``: join them all again
        (a Redis that restarted forgot them). A Redis that is unreachable is logged and left to the
        next regroup: the sockets keep what they show and catch up on their refresh timers."""
        async with self.groups_lock:
            if self.channel is None or self.stopped:
                return
            try:
                # Side by side, a chunk at a time: a process may watch thousands of members, and
                # subscribes wait on this lock while a periodic re-add runs.
                adds = sorted(set(self.watchers) if readd else set(self.watchers) - self.joined)
                for start in range(0, len(adds), GROUP_ADDS_AT_ONCE):
                    chunk = adds[start:start + GROUP_ADDS_AT_ONCE]
                    await asyncio.gather(*(self.layer.group_add(broadcast.member_group(member_id), self.channel)
                                           for member_id in chunk))
                    self.joined.update(chunk)
                for member_id in sorted(self.joined - set(self.watchers)):  # as of now: the adds took a while
                    self.joined.discard(member_id)
                    await self.layer.group_discard(broadcast.member_group(member_id), self.channel)
            except LAYER_DOWN as exc:
                logger.warning("channel layer unreachable (%s); the groups are joined at the next regroup", exc)

    async def _regroup_loop(self) -> None:
        every = float(settings.LEADERBOARDS_GROUP_REFRESH_SECONDS)
        while True:
            await asyncio.sleep(every)
            try:
                await self._sync_groups(readd=True)
            except Exception:
                logger.exception("live leaderboard regroup failed; retrying at the next period")

    async def _recheck_loop(self) -> None:
        """Re-check every socket's credentials each ``LEADERBOARDS_AUTH_RECHECK_SECONDS`` (a
        logout whose ``auth.check`` was lost): two queries for all token and ticket sockets of the
        process; a session socket, or one whose credentials do not pass, checks itself
        (``auth_check``: its session read) and closes if they fail."""
        every = float(settings.LEADERBOARDS_AUTH_RECHECK_SECONDS)
        while True:
            await asyncio.sleep(every)
            try:
                sockets = [c for c in self.watching if not c.closing]
                passed = await database_sync_to_async(credentials_pass)([(c.member.pk, c.auth) for c in sockets])
                for consumer, ok in zip(sockets, passed, strict=True):
                    if not ok:
                        await consumer.auth_check({"type": InternalType.AUTH_CHECK})
            except Exception:
                logger.exception("live leaderboard credential re-check failed; retrying at the next period")

    # --- member changes in ---

    async def _receive_loop(self) -> None:
        assert self.channel is not None
        channel = self.channel
        receive = retrying(lambda: self.layer.receive(channel))
        while True:
            try:
                message = await receive()
            except Exception:
                # Anything else the layer raises (a message it cannot decode, a bug of its own)
                # must not end the loop: every socket of the process would stop hearing changes.
                logger.exception("live leaderboard feed: the channel layer failed a receive; going on")
                await asyncio.sleep(FEED_ERROR_PAUSE_SECONDS)
                continue
            if message.get("type") != InternalType.MEMBER_CHANGED:  # the only message sent to lb.member.<id>
                logger.warning("live leaderboard feed: unexpected %r", message.get("type"))
                continue
            try:
                self.member_changed(message)
            except Exception:
                logger.exception("live leaderboard feed could not read a member.changed")

    def member_changed(self, event: dict[str, Any]) -> None:
        """``member.changed`` (handler names follow ``InternalType``): every local socket showing
        the member takes it, in one plain call each."""
        watchers = self.watchers.get(event["member_id"])
        if watchers:
            change = Change.from_event(event)
            for consumer in watchers:
                try:
                    consumer.watched_member_changed(change)
                except Exception:
                    logger.exception("a live leaderboard socket could not take a member.changed")


def credentials_pass(sockets: list[tuple[int, dict[str, Any]]]) -> list[bool]:
    """For each ``(member id, scope["lb_auth"])``: True if the member is active and the token
    behind the socket is still valid — or the socket came with a ticket that had neither token
    nor session. The rules for token and ticket sockets, for many sockets in two queries; a
    session socket does not pass here: ``LeaderboardConsumer._credentials_valid`` reads its
    session."""
    from django.db.models import Q
    from django.utils import timezone
    from knox.models import AuthToken

    ids = {member_id for member_id, _ in sockets}
    active = set(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    keys = {auth["token_key"] for _, auth in sockets if auth.get("token_key")}
    tokens = set(AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()), token_key__in=keys)
                 .values_list("token_key", "user_id")) if keys else set()
    out = []
    for member_id, auth in sockets:
        if member_id not in active:
            out.append(False)
        elif auth.get("token_key"):
            out.append((auth["token_key"], member_id) in tokens)
        else:
            out.append(not auth.get("session_key") and auth.get("via") == "ticket")
    return out


#: The feed of each event loop (an ASGI process runs one; tests run one per test).
_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MemberFeed] = weakref.WeakKeyDictionary()


class LeaderboardConsumer(AsyncWebsocketConsumer):
    member: User
    feed: MemberFeed | None = None  # set once the member is known (connect)
    closing = False

    # Channels sets ``channel_receive`` to the layer's receive; wrap it so that a Redis that
    # restarts (the layer raises a connection error) pauses this socket instead of killing it.
    @property
    def channel_receive(self) -> Any:
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive: Any) -> None:
        self._channel_receive = retrying(receive)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A handler that raised ends the socket without ``disconnect()``: leave the feed and
            # stop the timers all the same (a dead socket must not be flushed and refreshed on).
            await asyncio.shield(self._shutdown())

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first runs close_old_connections through sync_to_async: a hop
        # to the sync thread and back for EVERY message — the largest single cost of a busy
        # socket (bench/bench_live.py). Every database call here goes through
        # database_sync_to_async, which closes stale connections around itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.live: dict[str, Live] = {}
        self.joined: set[str] = set()
        self.loop = asyncio.get_running_loop()
        self.timers: asyncio.Task | None = None
        self.flusher: asyncio.Task | None = None
        self.flush_timer: asyncio.TimerHandle | None = None  # the next flush, when one is due
        self.reloader: asyncio.Task | None = None
        self.auth_recheck: asyncio.Task | None = None
        self.me_changed = False  # the member's own score moved since the last flush
        self.loading: dict[str, list[Change]] = {}  # board → changes that came while it was (re)loaded
        self.tick = float(settings.LEADERBOARDS_LIVE_TICK_SECONDS)
        self.flushed_at = -self.tick  # loop time of the last flush of dirty boards
        # One writer at a time: flushes, refreshes and (re)subscriptions all send per-board seqs.
        self.lock = asyncio.Lock()
        await self.accept()
        if self.scope.get("ticket_invalid"):
            await self._refuse(CloseCode.TICKET_INVALID, ErrorCode.TICKET_INVALID,
                               "This ticket is unknown, already used or expired. Ask for a new one.")
            return
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CloseCode.NOT_AUTHENTICATED, ErrorCode.NOT_AUTHENTICATED,
                               "Log in, or connect with ?ticket= from POST /api/v1/ws-ticket/.")
            return
        member = await database_sync_to_async(User.objects.filter(pk=user.pk, is_active=True).first)()
        if member is None:
            await self._refuse(CloseCode.NOT_AUTHENTICATED, ErrorCode.NOT_AUTHENTICATED, "This account is inactive.")
            return
        self.member = member
        auth = self.scope.get("lb_auth")
        if auth is None:
            session = self.scope.get("session")
            auth = {"via": "session", "session_key": session.session_key if session is not None else None}
        self.auth = auth
        self.feed = MemberFeed.for_layer(self.channel_layer)
        await self._sync_groups()
        self.timers = asyncio.create_task(self._timer_loop())
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # ?batch=1: this socket's boards come in rank.batch frames unless a subscribe says otherwise.
        self.batch_default = False
        for value in query.get("batch", [])[:1]:
            if value.lower() not in protocol.BATCH_QUERY_VALUES:
                await self._error(ErrorCode.INVALID_BATCH, f"?batch= takes 1 or 0, not {value[:40]!r}.")
                return
            self.batch_default = protocol.BATCH_QUERY_VALUES[value.lower()]
        for name in query.get("board", [])[:1]:
            await self._command({"type": MessageType.SUBSCRIBE, "board": name})

    async def disconnect(self, code: int) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        """Stop the timers, leave the feed and the groups (once; again is a no-op)."""
        self.closing = True
        timer, self.flush_timer = getattr(self, "flush_timer", None), None
        if timer is not None:
            timer.cancel()
        for task in (getattr(self, "timers", None), getattr(self, "flusher", None), getattr(self, "reloader", None),
                     getattr(self, "auth_recheck", None)):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.feed is not None:
            with contextlib.suppress(Exception):
                await self.feed.unwatch(self)
        for group in list(getattr(self, "joined", ())):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = set()

    async def _refuse(self, code: int, error: str, detail: str) -> None:
        self.closing = True
        await self._send({"type": MessageType.ERROR, "code": error, "detail": detail})
        await self.close(code=code)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=encode(message))

    async def _error(self, code: str, detail: str) -> None:
        await self._send({"type": MessageType.ERROR, "code": code, "detail": detail})

    # --- client → server ------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or not hasattr(self, "member"):
            return
        try:
            message = json.loads(text_data if text_data is not None else (bytes_data or b"").decode())
        except (ValueError, UnicodeDecodeError):
            await self._error(ErrorCode.BAD_JSON, "Send one JSON object per message.")
            return
        if not isinstance(message, dict):
            await self._error(ErrorCode.BAD_JSON, "Send one JSON object per message.")
            return
        await self._command(message)

    async def _command(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        commands = (MessageType.SUBSCRIBE, MessageType.RESYNC, MessageType.UNSUBSCRIBE)
        if kind not in commands:
            await self._error(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {str(kind)[:40]!r}: send one of "
                              + ", ".join(commands) + ".")
            return
        board = message.get("board")
        if board not in protocol.BOARDS:
            await self._error(ErrorCode.UNKNOWN_BOARD, f"Unknown board {str(board)[:40]!r}: "
                              + ", ".join(protocol.BOARDS) + ".")
            return
        if kind == MessageType.RESYNC:
            await self.resync(board)
        elif kind == MessageType.UNSUBSCRIBE:
            await self.unsubscribe(board)
        else:
            batch = message.get("batch", self.batch_default)
            if not isinstance(batch, bool):
                await self._error(ErrorCode.INVALID_BATCH, f"batch is true or false, not {str(batch)[:40]!r}.")
                return
            await self.subscribe(board, batch=batch)

    async def subscribe(self, name: str, *, batch: bool = False) -> None:
        async with self.lock:
            await self._subscribe(name, batch=batch)

    async def _subscribe(self, name: str, *, batch: bool) -> None:
        live = self.live.get(name)
        fresh = await self._load(name)
        fresh.batch = batch
        if live is not None:
            fresh.seq = live.seq
        self.live[name] = fresh
        await self._sync_groups()
        await self._snapshot(fresh)

    async def resync(self, name: str) -> None:
        live = self.live.get(name)
        if live is None:
            await self._error(ErrorCode.NOT_SUBSCRIBED, f"Subscribe to {name} first.")
            return
        await self.subscribe(name, batch=live.batch)

    async def unsubscribe(self, name: str) -> None:
        async with self.lock:
            self.live.pop(name, None)
            await self._sync_groups()

    async def _snapshot(self, live: Live) -> None:
        live.seq += 1
        message: dict[str, Any] = {
            "type": MessageType.SNAPSHOT, "board": live.name, "seq": live.seq,
            "entries": [e.as_dict(self.member.pk) for e in live.shown().values()],
            "total": live.total, "my_rank": live.my_rank,
        }
        if live.season is not None:
            message["season"] = live.season
        await self._send(message)

    # --- loading boards ---------------------------------------------------------------------------

    async def _load(self, name: str) -> Live:
        """The board ``name`` as the index has it now; a friends board also takes the changes
        that came while it was read (the read could have missed them; taking one it already has
        again is harmless), which leave it dirty and due for a flush, with the deltas after its
        snapshot. A global/weekly window does not (it would have to be read again): like a
        member that a new subscription starts to show before its group is joined, it catches up
        at the member's next change or the refresh timer."""
        arrived: list[Change] = []
        self.loading[name] = arrived
        try:
            fresh = await database_sync_to_async(self._load_sync)(name)
        finally:
            del self.loading[name]
        me = self.member.pk
        # A list, not a generator: every arrived change must be taken, not just up to the first.
        if fresh.board is not None and any([fresh.take(change, me=me) for change in arrived]):
            self._schedule_flush()
        return fresh

    def _load_sync(self, name: str) -> Live:
        me = self.member.pk
        if name == protocol.FRIENDS:
            board = RankedBoard(backends.FriendsBoard(self.member).items(), viewer=me)
            mine = board.entries.get(me)
            return Live(name, set(board.items) | {me}, board=board, total=len(board),
                        my_rank=mine.rank if mine else None)
        view = backends.board_for(name, viewer=self.member).view(viewer_id=me, limit=WINDOW, around_me=True)
        season = backends.season_dict(view.season) if view.season is not None else None
        return Live(name, {e.member_id for e in view.entries} | {me}, window={e.member_id: e for e in view.entries},
                    season=season, total=view.total, my_rank=view.me.rank if view.me else None)

    async def _sync_groups(self) -> None:
        # The members shown (and the member themself: their own score changes become
        # ``me.changed`` for live pages such as the dashboard, at no extra publish) come through
        # the process's feed; news about the member (``lb.user.<id>``) to this socket's channel.
        assert self.feed is not None
        watched = {self.member.pk}
        for live in self.live.values():
            watched |= live.members
        await self.feed.watch(self, watched)
        wanted = {broadcast.user_group(self.member.pk)}
        for group in sorted(wanted - self.joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = wanted

    async def _readd_groups(self) -> None:
        """Group membership lives in the channel layer; a Redis that restarted lost it (the feed
        re-adds the members' groups itself)."""
        for group in sorted(self.joined):
            await self.channel_layer.group_add(group, self.channel_name)

    # --- member changes, from the feed --------------------------------------------------------------

    def watched_member_changed(self, change: Change) -> None:
        """The feed's ``member.changed`` about a member this socket shows (or the member
        themself): move it on the boards that show it, and have them flushed."""
        if self.closing:
            return
        me = self.member.pk
        due = False
        if change.member_id == me:
            self.me_changed = due = True
        for arrived in self.loading.values():
            arrived.append(change)
        for live in self.live.values():
            if live.take(change, me=me):
                due = True
        if due:
            self._schedule_flush()

    # --- server-side messages (handler names follow InternalType) -----------------------------------

    async def friends_changed(self, event: dict[str, Any]) -> None:
        async with self.lock:
            live = self.live.get(protocol.FRIENDS)
            if live is not None:
                await self._subscribe(protocol.FRIENDS, batch=live.batch)

    async def client_push(self, event: dict[str, Any]) -> None:
        """News about the member themself (``broadcast.member_push``): forwarded as is."""
        if not self.closing:
            await self._send(event["payload"])

    async def auth_check(self, event: dict[str, Any]) -> None:
        # The logout that sent this finishes (session flushed, token deleted) just after it.
        if self.auth_recheck is None or self.auth_recheck.done():
            self.auth_recheck = asyncio.create_task(self._recheck_credentials(after=1.0))

    # --- flushes and timers -----------------------------------------------------------------------

    def _schedule_flush(self, *, at: float | None = None) -> None:
        """Flush at loop time ``at``; by default one tick after the last flush — at once if that
        is past (the leading edge of a burst), and what comes meanwhile goes out with it. One
        timer at a time: a change while one is set only marks its board dirty."""
        if self.flush_timer is None and not self.closing:
            when = self.flushed_at + self.tick if at is None else at
            self.flush_timer = self.loop.call_at(when, self._start_flush)

    def _start_flush(self) -> None:
        self.flush_timer = None
        # A task per flush, not a call from the feed: a client that reads slowly makes ``send``
        # wait (uvicorn's write buffer is bounded), and must hold up nobody but itself.
        self.flusher = asyncio.create_task(self._flush_now())

    async def _flush_now(self) -> None:
        try:
            if not await self.flush():
                self._schedule_flush(at=self.loop.time() + self.tick)
        except Exception:
            logger.exception("live leaderboard flush failed; the next change or refresh retries")

    async def flush(self) -> bool:
        """Bring the client up to date: ``me.changed`` if their score moved, then the deltas of each
        dirty board. Global and weekly windows are re-read from the index in a task of their own
        (one at a time). False if something is left for a tick later: a subscribe or refresh holds
        the lock, or the previous window reload is still running."""
        if self.closing:
            return True
        if self.lock.locked():
            return False
        windows = False
        async with self.lock:
            self.flushed_at = self.loop.time()
            if self.me_changed:
                self.me_changed = False
                await self.send(text_data=ME_CHANGED_SCORE)
            for live in list(self.live.values()):
                if live.dirty and not self.closing:
                    if live.board is None:
                        windows = True
                    else:
                        await self._recompute(live, reload=False)
        if windows:
            if self.reloader is not None and not self.reloader.done():
                return False
            self.reloader = asyncio.create_task(self._reload_windows())
        return True

    async def _reload_windows(self) -> None:
        try:
            async with self.lock:
                for live in list(self.live.values()):
                    if live.dirty and live.board is None and not self.closing:
                        await self._recompute(live, reload=True)
        except Exception:
            logger.exception("live leaderboard window reload failed; the next change or refresh retries")

    async def _timer_loop(self) -> None:
        """The slow timers: refresh every board from the index (a lost message costs one refresh
        period at most), re-add the socket's own group (the feed re-adds the members' groups and
        re-checks the credentials of all its sockets at once)."""
        loop = asyncio.get_running_loop()
        refresh_every = float(settings.LEADERBOARDS_LIVE_REFRESH_SECONDS)
        groups_every = float(settings.LEADERBOARDS_GROUP_REFRESH_SECONDS)
        next_refresh = loop.time() + refresh_every
        next_groups = loop.time() + groups_every
        while not self.closing:
            await asyncio.sleep(max(0.0, min(next_refresh, next_groups) - loop.time()))
            now = loop.time()
            try:
                if now >= next_refresh:
                    next_refresh = now + refresh_every
                    async with self.lock:
                        for live in list(self.live.values()):
                            await self._recompute(live, reload=True)
                if now >= next_groups:
                    next_groups = now + groups_every
                    await self._readd_groups()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live leaderboard timer failed; retrying at the next period")

    async def _recheck_credentials(self, *, after: float = 0.0) -> bool:
        """Close the socket (4401) if its session or token was logged out; False if it did."""
        if after:
            await asyncio.sleep(after)
        if self.closing:
            return False
        if await database_sync_to_async(self._credentials_valid)():
            return True
        await self._refuse(CloseCode.NOT_AUTHENTICATED, ErrorCode.NOT_AUTHENTICATED, "You were logged out.")
        return False

    async def _recompute(self, live: Live, *, reload: bool) -> None:
        causes, live.causes, live.dirty = live.causes, {}, False
        me = self.member.pk
        if reload:
            fresh = await self._load(live.name)
            moves = diff(live.shown(), fresh.shown(), me=me)
            regroup = fresh.members != live.members
            live.board, live.window, live.members = fresh.board, fresh.window, fresh.members
            live.total, live.my_rank, live.season = fresh.total, fresh.my_rank, fresh.season
            # Changes that came during the load: taken by the fresh board, sent at its next flush.
            live.dirty = live.dirty or fresh.dirty
            live.causes.update(fresh.causes)
            if regroup:
                await self._sync_groups()
        else:
            assert live.board is not None
            moves = live.board.changes()
            mine = live.board.entries.get(me)
            live.total, live.my_rank = len(live.board), mine.rank if mine else None
        if not moves:
            return
        deltas = [rank_changed(move, board=live.name, seq=live.seq + i, me=me, causes=causes)
                  for i, move in enumerate(moves, 1)]
        live.seq += len(deltas)
        if live.batch:
            await self._send({"type": MessageType.RANK_BATCH, "board": live.name, "deltas": deltas})
        else:
            for delta in deltas:
                await self._send(delta)

    def _credentials_valid(self) -> bool:
        from importlib import import_module

        from django.contrib.auth import SESSION_KEY

        session_key = self.auth.get("session_key")
        if self.auth.get("token_key") or not session_key:
            return credentials_pass([(self.member.pk, self.auth)])[0]
        if not User.objects.filter(pk=self.member.pk, is_active=True).exists():
            return False
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
        return str(store.get(SESSION_KEY)) == str(self.member.pk)
