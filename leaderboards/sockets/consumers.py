"""The live leaderboard consumer: ``/ws/leaderboards/`` (DESIGN.md §5, §8).

Auth happens before (session via ``AuthMiddlewareStack``, ``?ticket=`` via
``tickets.TicketAuthMiddleware``; the origin check in ``config.ws``). Anonymous sockets get an
``error`` and close with ``CloseCode.NOT_AUTHENTICATED`` (4401); a bad ticket with
``CloseCode.TICKET_INVALID`` (4403). A client's message is read by the kernel's limited JSON reader
(``config.kernel.json_limits``): over ``MESSAGE_MAX_BYTES`` it gets an ``error`` ``too_large`` and
the socket closes with 1009 (``CLOSE_MESSAGE_TOO_BIG``, "message too big"); nested too deep, an
``error`` ``too_deep`` and the socket stays open.

Per subscribed board the consumer holds what its client shows and a ``seq`` (+1 per row message
to that client, starting at 1 with the first snapshot): a ``subscriptions.Live``. The members a
socket shows are watched through its process's ``feed.MemberFeed``, which hands each
``member.changed`` to every socket showing that member; a change marks the board dirty and a
flush recomputes it — the friends board in memory, a global/weekly window from the index — and
sends one ``rank.changed`` per shown member whose rank or score moved, or, to a client that
asked for batches (``protocol`` docstring), all of them in one ``rank.batch`` frame. Flushes are
coalesced: the first change after a quiet tick (``LEADERBOARDS_LIVE_TICK_SECONDS``, 250 ms) goes
out at once (leading edge), the rest of its burst one tick after that flush, together. Nothing
runs on a tick while nothing changes: a slow timer refreshes boards from the index (lost
messages) and re-adds the socket's own group (a Redis that restarted forgot it); the feed
re-checks credentials (logged out elsewhere, ``credentials``). The member's own score changes
become ``me.changed`` with the same coalescing (one per flush, before the boards' deltas). News
about the member themself (``lb.user.<id>``: friendships, logouts, ``client.push``) comes to the
socket's own channel.

Handlers are named after the messages they handle: the client's ``subscribe``, ``resync`` and
``unsubscribe``; the channel layer's ``friends.changed``, ``client.push`` and ``auth.check``
(``protocol.InternalType``); the feed calls ``watched_member_changed`` for ``member.changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.members.models import User
from config.kernel import json_limits, metrics
from leaderboards.live import broadcast, protocol
from leaderboards.live.protocol import CloseCode, ErrorCode, MessageType
from leaderboards.sockets.credentials import credentials_valid, socket_auth
from leaderboards.sockets.feed import Change, MemberFeed, retrying
from leaderboards.sockets.subscriptions import Live, diff, live_load, rank_changed

logger = logging.getLogger(__name__)

#: One encoder for every frame (compact separators; ``json.dumps`` with options builds a new one per call).
encode = json.JSONEncoder(separators=(",", ":")).encode

#: The member's own score moved (sent to their sockets, whatever boards they show): always the same text.
ME_CHANGED_SCORE = encode({"type": MessageType.ME_CHANGED, "what": ["score"]})

#: A client's message is a small command: a larger one gets ``error`` ``too_large`` and the socket
#: closes with ``CLOSE_MESSAGE_TOO_BIG`` (RFC 6455's 1009). One nested deeper than
#: ``JSON_MAX_DEPTH`` gets ``error`` ``too_deep`` and the socket stays open, as for malformed JSON.
MESSAGE_MAX_BYTES = 128 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009

#: How much of a client's unexpected value an error message quotes back.
ECHO_CHARS = 40
#: ``auth.check`` re-checks this long after it came: the logout that sent it finishes (session
#: flushed, token deleted) just after sending it.
LOGOUT_SETTLE_SECONDS = 1.0


class LeaderboardConsumer(AsyncWebsocketConsumer):
    """One live socket: its subscribed boards, their flushes and timers (see the module's docstring)."""

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
        metrics.LIVE_SOCKETS_OPEN.inc()  # back down in disconnect (a socket with a member)
        self.auth = socket_auth(self.scope)
        self.feed = MemberFeed.for_layer(self.channel_layer)
        await self._sync_groups()
        self.timers = asyncio.create_task(self._timer_loop())
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # ?batch=1: this socket's boards come in rank.batch frames unless a subscribe says otherwise.
        self.batch_default = False
        for value in query.get("batch", [])[:1]:
            if value.lower() not in protocol.BATCH_QUERY_VALUES:
                await self._error(ErrorCode.INVALID_BATCH, f"?batch= takes 1 or 0, not {value[:ECHO_CHARS]!r}.")
                return
            self.batch_default = protocol.BATCH_QUERY_VALUES[value.lower()]
        for name in query.get("board", [])[:1]:
            await self._command({"type": MessageType.SUBSCRIBE, "board": name})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "member"):
            metrics.LIVE_SOCKETS_OPEN.dec()
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
        metrics.LIVE_FRAMES_SENT.inc()

    async def _error(self, code: str, detail: str) -> None:
        await self._send({"type": MessageType.ERROR, "code": code, "detail": detail})

    # --- client → server ------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or not hasattr(self, "member"):
            return
        try:
            message = json_limits.loads(text_data if text_data is not None else (bytes_data or b""),
                                        limit_bytes=MESSAGE_MAX_BYTES)
        except json_limits.TooLarge as exc:
            await self._refuse(CLOSE_MESSAGE_TOO_BIG, exc.code, f"A message is at most {MESSAGE_MAX_BYTES} bytes.")
            return
        except json_limits.TooDeep as exc:
            await self._error(exc.code, exc.detail)
            return
        except json_limits.Malformed:
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
            await self._error(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {str(kind)[:ECHO_CHARS]!r}: send one of "
                              + ", ".join(commands) + ".")
            return
        board = message.get("board")
        if board not in protocol.BOARDS:
            await self._error(ErrorCode.UNKNOWN_BOARD, f"Unknown board {str(board)[:ECHO_CHARS]!r}: "
                              + ", ".join(protocol.BOARDS) + ".")
            return
        if kind == MessageType.RESYNC:
            await self.resync(board)
        elif kind == MessageType.UNSUBSCRIBE:
            await self.unsubscribe(board)
        else:
            batch = message.get("batch", self.batch_default)
            if not isinstance(batch, bool):
                await self._error(ErrorCode.INVALID_BATCH, f"batch is true or false, not {str(batch)[:ECHO_CHARS]!r}.")
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
        metrics.LIVE_RESYNCS.inc()
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
        return live_load(name, self.member)

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
        if self.auth_recheck is None or self.auth_recheck.done():
            self.auth_recheck = asyncio.create_task(self._recheck_credentials(after=LOGOUT_SETTLE_SECONDS))

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
                metrics.LIVE_FRAMES_SENT.inc()
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
        metrics.LIVE_DELTAS_SENT.inc(len(deltas))
        if live.batch:
            await self._send({"type": MessageType.RANK_BATCH, "board": live.name, "deltas": deltas})
        else:
            for delta in deltas:
                await self._send(delta)

    def _credentials_valid(self) -> bool:
        return credentials_valid(self.member.pk, self.auth)
