"""The live leaderboard consumer: ``/ws/leaderboards/`` (DESIGN.md §5, §8).

Auth happens before (session via ``AuthMiddlewareStack``, ``?ticket=`` via
``leaderboards.auth.TicketAuthMiddleware``; the origin check in ``config.ws``). Anonymous sockets
get an ``error`` and close with ``CloseCode.NOT_AUTHENTICATED`` (4401); a bad ticket with
``CloseCode.TICKET_INVALID`` (4403).

Per subscribed board the consumer holds what its client shows and a ``seq`` (+1 per message
to that client, starting at 1 with the first snapshot). It joins the group of every member it
shows (``lb.member.<id>``); a member's change marks the board dirty, and a tick
(``LEADERBOARDS_LIVE_TICK_SECONDS``, 250 ms) recomputes it — the friends board in memory, a
global/weekly window from the index — and sends one ``rank.changed`` per shown member whose
rank or score moved. Bursts thus coalesce into one update per tick. The friends board also
flushes on the leading edge: a change arriving when nothing was flushed for a tick goes out at
once (no tick's wait), the rest of its burst waits for the tick. On timers it also
refreshes boards from the index (lost messages), re-adds its groups (a Redis that restarted
forgot them) and re-checks its credentials (logged out elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from accounts.models import User
from leaderboards import boards, broadcast, protocol
from leaderboards.protocol import CloseCode, ErrorCode, MessageType
from leaderboards.ranking import Entry, Item, rank_all

logger = logging.getLogger(__name__)

#: How many rows a live global/weekly board shows (a window around the member).
WINDOW = 25


@dataclass
class Live:
    name: str
    entries: list[Entry]
    members: set[int]
    items: dict[int, Item] | None = None  # the whole friends board
    season: dict | None = None
    total: int = 0
    my_rank: int | None = None
    seq: int = 0
    dirty: bool = False
    causes: dict[int, str] = field(default_factory=dict)


def diff(old: list[Entry], new: list[Entry], *, me: int, causes: dict[int, str]) -> list[dict[str, Any]]:
    """``rank.changed`` bodies (without seq) for each member whose rank or score moved, entered
    (``old_rank`` None) or left (``new_rank`` None), in the new board's order."""
    before = {e.member_id: e for e in old}
    after = {e.member_id: e for e in new}
    old_pos = {e.member_id: i for i, e in enumerate(old)}
    new_pos = {e.member_id: i for i, e in enumerate(new)}
    out = []
    for member_id in [e.member_id for e in new] + [e.member_id for e in old if e.member_id not in after]:
        a, b = before.get(member_id), after.get(member_id)
        if a is not None and b is not None and (a.rank, a.score) == (b.rank, b.score):
            continue
        shown = b or a
        assert shown is not None
        body: dict[str, Any] = {
            "type": MessageType.RANK_CHANGED,
            "username": shown.username,
            "old_rank": a.rank if a else None,
            "new_rank": b.rank if b else None,
            "old_score": a.score if a else None,
            "new_score": b.score if b else None,
            "band": shown.band,
            "is_me": member_id == me,
            "cause": causes.get(member_id, "shift"),
        }
        if member_id == me and a is not None and b is not None:
            body["passed_by"] = [
                after[x].username for x in new_pos
                if x != me and x in old_pos and old_pos[x] > old_pos[me] and new_pos[x] < new_pos[me]
            ]
        out.append(body)
    return out


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

    async def connect(self) -> None:
        self.live: dict[str, Live] = {}
        self.joined: set[str] = set()
        self.ticker: asyncio.Task | None = None
        self.auth_due: float | None = None
        self.closing = False
        self.tick = float(settings.LEADERBOARDS_LIVE_TICK_SECONDS)
        self.flushed_at = 0.0  # loop time of the last recompute of dirty boards
        # One writer at a time: the tick and the message handlers both send per-board seqs.
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
        self.ticker = asyncio.create_task(self._tick_loop())
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        for name in query.get("board", [])[:1]:
            await self._command({"type": MessageType.SUBSCRIBE, "board": name})

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if getattr(self, "ticker", None) is not None:
            self.ticker.cancel()  # type: ignore[union-attr]
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ticker  # type: ignore[misc]
        for group in list(getattr(self, "joined", ())):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = set()

    async def _refuse(self, code: int, error: str, detail: str) -> None:
        self.closing = True
        await self._send({"type": MessageType.ERROR, "code": error, "detail": detail})
        await self.close(code=code)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))

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
        handlers = {MessageType.SUBSCRIBE: self.subscribe, MessageType.RESYNC: self.resync,
                    MessageType.UNSUBSCRIBE: self.unsubscribe}
        if kind not in handlers:
            await self._error(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {str(kind)[:40]!r}: send one of "
                              + ", ".join(handlers) + ".")
            return
        board = message.get("board")
        if board not in protocol.BOARDS:
            await self._error(ErrorCode.UNKNOWN_BOARD, f"Unknown board {str(board)[:40]!r}: "
                              + ", ".join(protocol.BOARDS) + ".")
            return
        await handlers[kind](board)

    async def subscribe(self, name: str) -> None:
        async with self.lock:
            await self._subscribe(name)

    async def _subscribe(self, name: str) -> None:
        live = self.live.get(name)
        fresh = await self._load(name)
        if live is not None:
            fresh.seq = live.seq
        self.live[name] = fresh
        await self._sync_groups()
        await self._snapshot(fresh)

    async def resync(self, name: str) -> None:
        if name not in self.live:
            await self._error(ErrorCode.NOT_SUBSCRIBED, f"Subscribe to {name} first.")
            return
        await self.subscribe(name)

    async def unsubscribe(self, name: str) -> None:
        async with self.lock:
            self.live.pop(name, None)
            await self._sync_groups()

    async def _snapshot(self, live: Live) -> None:
        live.seq += 1
        message: dict[str, Any] = {
            "type": MessageType.SNAPSHOT, "board": live.name, "seq": live.seq,
            "entries": [e.as_dict(self.member.pk) for e in live.entries],
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
            items = boards.FriendsBoard(self.member).items()
            entries = rank_all(items)
            mine = next((e.rank for e in entries if e.member_id == me), None)
            return Live(name, entries, {i.member_id for i in items} | {me}, {i.member_id: i for i in items},
                        total=len(entries), my_rank=mine)
        view = boards.board_for(name, viewer=self.member).view(viewer_id=me, limit=WINDOW, around_me=True)
        season = boards.season_dict(view.season) if view.season is not None else None
        return Live(name, view.entries, {e.member_id for e in view.entries} | {me}, season=season,
                    total=view.total, my_rank=view.me.rank if view.me else None)

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
        for live in self.live.values():
            if member_id not in live.members:
                continue
            live.dirty = True
            live.causes[member_id] = event.get("cause") or "change"
            if live.items is not None:
                if event.get("listed") and event.get("new_score") is not None:
                    live.items[member_id] = Item(member_id, event["new_score"], event["reached"],
                                                 event["username"], event.get("band") or "")
                elif member_id != self.member.pk:
                    live.items.pop(member_id, None)
        now = asyncio.get_running_loop().time()
        if now - self.flushed_at >= self.tick and not self.lock.locked():
            async with self.lock:
                self.flushed_at = now
                for live in list(self.live.values()):
                    if live.dirty and live.items is not None:
                        await self._recompute(live, reload=False)

    async def friends_changed(self, event: dict[str, Any]) -> None:
        async with self.lock:
            if protocol.FRIENDS in self.live:
                await self._subscribe(protocol.FRIENDS)

    async def client_push(self, event: dict[str, Any]) -> None:
        """News about the member themself (``broadcast.member_push``): forwarded as is."""
        if not self.closing:
            await self._send(event["payload"])

    async def auth_check(self, event: dict[str, Any]) -> None:
        # The logout that sent this finishes (session flushed, token deleted) just after it.
        self.auth_due = asyncio.get_running_loop().time() + 1.0

    # --- the tick ------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick = float(settings.LEADERBOARDS_LIVE_TICK_SECONDS)
        refresh_every = float(settings.LEADERBOARDS_LIVE_REFRESH_SECONDS)
        groups_every = float(settings.LEADERBOARDS_GROUP_REFRESH_SECONDS)
        auth_every = float(settings.LEADERBOARDS_AUTH_RECHECK_SECONDS)
        next_refresh = loop.time() + refresh_every
        next_groups = loop.time() + groups_every
        next_auth = loop.time() + auth_every
        while not self.closing:
            await asyncio.sleep(tick)
            now = loop.time()
            try:
                if (self.auth_due is not None and now >= self.auth_due) or now >= next_auth:
                    self.auth_due, next_auth = None, now + auth_every
                    if not await database_sync_to_async(self._credentials_valid)():
                        await self._refuse(CloseCode.NOT_AUTHENTICATED, ErrorCode.NOT_AUTHENTICATED,
                                           "You were logged out.")
                        return
                refresh = now >= next_refresh
                if refresh:
                    next_refresh = now + refresh_every
                # Right after a leading-edge flush, leave the rest of the burst to the next tick.
                settle = now - self.flushed_at < tick / 2
                async with self.lock:
                    if not settle and any(live.dirty for live in self.live.values()):
                        self.flushed_at = now
                    for live in list(self.live.values()):
                        if (live.dirty and not settle) or refresh:
                            await self._recompute(live, reload=refresh or live.items is None)
                if now >= next_groups:
                    next_groups = now + groups_every
                    await self._readd_groups()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live leaderboard tick failed; retrying next tick")

    async def _recompute(self, live: Live, *, reload: bool) -> None:
        causes, live.causes, live.dirty = live.causes, {}, False
        if reload:
            fresh = await self._load(live.name)
            new_entries = fresh.entries
            live.items, live.members, live.total, live.my_rank = (fresh.items, fresh.members, fresh.total,
                                                                  fresh.my_rank)
            live.season = fresh.season
            await self._sync_groups()
        else:
            assert live.items is not None
            new_entries = rank_all(live.items.values())
            live.total = len(new_entries)
            live.my_rank = next((e.rank for e in new_entries if e.member_id == self.member.pk), None)
        changes = diff(live.entries, new_entries, me=self.member.pk, causes=causes)
        live.entries = new_entries
        for body in changes:
            live.seq += 1
            await self._send({**body, "board": live.name, "seq": live.seq})

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
