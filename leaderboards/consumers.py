"""The live leaderboard consumer: ``/ws/leaderboards/`` (DESIGN.md §5, §8).

Auth happens before (session via ``AuthMiddlewareStack``, ``?ticket=`` via
``leaderboards.auth.TicketAuthMiddleware``; the origin check in ``config.ws``). Anonymous sockets
get an ``error`` and close with ``CloseCode.NOT_AUTHENTICATED`` (4401); a bad ticket with
``CloseCode.TICKET_INVALID`` (4403).

Per subscribed board the consumer holds what its client shows and a ``seq`` (+1 per row message
to that client, starting at 1 with the first snapshot). It joins the group of every member it
shows (``lb.member.<id>``); a member's change marks the board dirty and a flush recomputes it —
the friends board in memory, a global/weekly window from the index — and sends one
``rank.changed`` per shown member whose rank or score moved, or, to a client that asked for
batches (``protocol`` docstring), all of them in one ``rank.batch`` frame. Flushes are coalesced:
the first change after a quiet tick (``LEADERBOARDS_LIVE_TICK_SECONDS``, 250 ms) goes out at
once (leading edge), the rest of its burst one tick after that flush, together. Nothing runs on
a tick while nothing changes: a slow timer refreshes boards from the index (lost messages),
re-adds groups (a Redis that restarted forgot them) and re-checks credentials (logged out
elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from accounts.models import User
from leaderboards import boards, broadcast, protocol
from leaderboards.protocol import CloseCode, ErrorCode, MessageType
from leaderboards.ranking import Entry, Item, Move, RankedBoard

logger = logging.getLogger(__name__)

#: How many rows a live global/weekly board shows (a window around the member).
WINDOW = 25

#: One encoder for every frame (compact separators; ``json.dumps`` with options builds a new one per call).
encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class Live:
    """One subscribed board: what its client shows, and what a flush needs to bring it up to date."""

    name: str
    members: set[int]  # the members whose changes concern this board (their groups are joined)
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


class LeaderboardConsumer(AsyncWebsocketConsumer):
    member: User

    # Channels sets ``channel_receive`` to the layer's receive; wrap it so that a Redis that
    # restarts (the layer raises a connection error) pauses this socket instead of killing it.
    @property
    def channel_receive(self) -> Any:
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive: Any) -> None:
        async def resilient() -> Any:
            delay = 0.25
            while True:
                try:
                    return await receive()
                except (OSError, RedisError) as exc:
                    logger.warning("channel layer unreachable (%s); retrying in %.2f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

        self._channel_receive = resilient

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first runs close_old_connections through sync_to_async: a hop
        # to the sync thread and back for EVERY message, each member.changed included — the
        # largest single cost of a busy socket (bench/bench_live.py). Every database call here
        # goes through database_sync_to_async, which closes stale connections around itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.live: dict[str, Live] = {}
        self.joined: set[str] = set()
        self.timers: asyncio.Task | None = None
        self.flusher: asyncio.Task | None = None
        self.auth_recheck: asyncio.Task | None = None
        self.closing = False
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
        self.closing = True
        for task in (getattr(self, "timers", None), getattr(self, "flusher", None),
                     getattr(self, "auth_recheck", None)):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
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
        return await database_sync_to_async(self._load_sync)(name)

    def _load_sync(self, name: str) -> Live:
        me = self.member.pk
        if name == protocol.FRIENDS:
            board = RankedBoard(boards.FriendsBoard(self.member).items(), viewer=me)
            mine = board.entries.get(me)
            return Live(name, set(board.items) | {me}, board=board, total=len(board),
                        my_rank=mine.rank if mine else None)
        view = boards.board_for(name, viewer=self.member).view(viewer_id=me, limit=WINDOW, around_me=True)
        season = boards.season_dict(view.season) if view.season is not None else None
        return Live(name, {e.member_id for e in view.entries} | {me}, window={e.member_id: e for e in view.entries},
                    season=season, total=view.total, my_rank=view.me.rank if view.me else None)

    async def _sync_groups(self) -> None:
        # Always the member's own groups: news about them, and their own score changes (which
        # become ``me.changed`` for live pages such as the dashboard, at no extra publish).
        wanted = {broadcast.user_group(self.member.pk), broadcast.member_group(self.member.pk)}
        for live in self.live.values():
            wanted |= {broadcast.member_group(m) for m in live.members}
        for group in sorted(wanted - self.joined):
            await self.channel_layer.group_add(group, self.channel_name)
        for group in sorted(self.joined - wanted):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = wanted

    async def _readd_groups(self) -> None:
        """Group membership lives in the channel layer; a Redis that restarted lost it."""
        for group in sorted(self.joined):
            await self.channel_layer.group_add(group, self.channel_name)

    # --- server-side messages (handler names follow InternalType) -----------------------------------

    async def member_changed(self, event: dict[str, Any]) -> None:
        member_id = event["member_id"]
        if member_id == self.member.pk and not self.closing:
            await self._send({"type": MessageType.ME_CHANGED, "what": ["score"]})
        shown_here = False
        for live in self.live.values():
            if member_id not in live.members:
                continue
            shown_here = live.dirty = True
            live.causes[member_id] = event.get("cause") or "change"
            if live.board is not None:
                if event.get("listed") and event.get("new_score") is not None:
                    live.board.put(Item(member_id, event["new_score"], event["reached"], event["username"],
                                        event.get("band") or ""))
                elif member_id != self.member.pk:
                    live.board.remove(member_id)
        if shown_here and not self.closing and (self.flusher is None or self.flusher.done()):
            self.flusher = asyncio.create_task(self._flush_loop())

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

    async def _flush_loop(self) -> None:
        """Flush dirty boards, at most once per tick, until none is dirty: the first change after
        a quiet tick goes out at once (leading edge), what comes while a flush is due or running
        waits for the next one. At most one of these runs per socket (``member_changed``)."""
        loop = asyncio.get_running_loop()
        while not self.closing and any(live.dirty for live in self.live.values()):
            wait = self.flushed_at + self.tick - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self.lock:
                self.flushed_at = loop.time()
                try:
                    for live in list(self.live.values()):
                        if live.dirty and not self.closing:
                            await self._recompute(live, reload=live.board is None)
                except Exception:
                    logger.exception("live leaderboard flush failed; the next change or refresh retries")
                    return

    async def _timer_loop(self) -> None:
        """The slow timers: refresh every board from the index (a lost message costs one refresh
        period at most), re-add the groups, re-check the credentials."""
        loop = asyncio.get_running_loop()
        refresh_every = float(settings.LEADERBOARDS_LIVE_REFRESH_SECONDS)
        groups_every = float(settings.LEADERBOARDS_GROUP_REFRESH_SECONDS)
        auth_every = float(settings.LEADERBOARDS_AUTH_RECHECK_SECONDS)
        next_refresh = loop.time() + refresh_every
        next_groups = loop.time() + groups_every
        next_auth = loop.time() + auth_every
        while not self.closing:
            await asyncio.sleep(max(0.0, min(next_refresh, next_groups, next_auth) - loop.time()))
            now = loop.time()
            try:
                if now >= next_auth:
                    next_auth = now + auth_every
                    if not await self._recheck_credentials():
                        return
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
            live.board, live.window, live.members = fresh.board, fresh.window, fresh.members
            live.total, live.my_rank, live.season = fresh.total, fresh.my_rank, fresh.season
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
        from django.utils import timezone

        if not User.objects.filter(pk=self.member.pk, is_active=True).exists():
            return False
        token_key = self.auth.get("token_key")
        if token_key:
            from django.db.models import Q
            from knox.models import AuthToken

            return AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()),
                                            token_key=token_key, user_id=self.member.pk).exists()
        session_key = self.auth.get("session_key")
        if not session_key:
            return self.auth.get("via") == "ticket"
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
        return str(store.get(SESSION_KEY)) == str(self.member.pk)
