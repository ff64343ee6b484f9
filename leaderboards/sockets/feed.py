"""The member feed: one per ASGI process, it hears each shown member's changes once and hands
them to the process's sockets.

A change of a member with 24 online friends used to be 24 channel messages — one per friend's
socket, each received, unpacked and dispatched by that socket's own task (≈ 30 µs of CPU each, a
quarter of a busy ASGI process; docs/benchmarks.md). The feed joins each watched member's group
(``broadcast.member_group``: ``lb.member.<id>``) once on its own channel, reads each
``member.changed`` once (``Change``) and hands it to every socket showing that member with a
plain call (``Watcher.watched_member_changed``). It also re-adds its groups on a timer (a Redis
that restarted forgot them) and re-checks the credentials of all its sockets at once
(``credentials.credentials_pass``).

Also here: ``retrying``, the channel-layer receive that waits out a Redis that is restarting
(the feed's and every socket's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from redis.exceptions import RedisError

from accounts.members.models import User
from config.kernel.chunks import chunks
from leaderboards.boards.ranking import Item
from leaderboards.live import broadcast
from leaderboards.live.protocol import InternalType
from leaderboards.sockets.credentials import credentials_pass

logger = logging.getLogger(__name__)

#: Errors of a channel layer whose Redis is unreachable (restarting): wait and retry, never die.
LAYER_DOWN = (OSError, RedisError)
#: ``retrying``'s pause after the first failed receive, doubled after each next one up to the most.
LAYER_RETRY_FIRST_SECONDS = 0.25
LAYER_RETRY_MOST_SECONDS = 5.0
#: The feed's pause after any other error of a receive (it logs it and goes on).
FEED_ERROR_PAUSE_SECONDS = 0.5
#: Group joins the feed sends at once (each is one or two Redis round trips).
GROUP_ADDS_AT_ONCE = 100


def retrying(receive: Callable[[], Any]) -> Callable[[], Any]:
    """``receive`` (a channel layer's, for one channel) that waits out an unreachable Redis:
    it retries with a growing pause (``LAYER_RETRY_FIRST_SECONDS`` doubling to
    ``LAYER_RETRY_MOST_SECONDS``) instead of raising."""

    async def resilient() -> Any:
        delay = LAYER_RETRY_FIRST_SECONDS
        while True:
            try:
                return await receive()
            except LAYER_DOWN as exc:
                logger.warning("channel layer unreachable (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAYER_RETRY_MOST_SECONDS)

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



class Watcher(Protocol):
    """What the feed needs of a socket (``consumers.LeaderboardConsumer``)."""

    closing: bool
    member: User
    auth: dict[str, Any]  # how it was opened (``credentials.socket_auth``)

    def watched_member_changed(self, change: Change) -> None: ...

    async def auth_check(self, event: dict[str, Any]) -> None: ...


class MemberFeed:
    """The members that one process's live sockets show, received ONCE per process (see the
    module's docstring). Offline members still cost nothing: a group is left as soon as no socket
    of the process shows its member, and the feed stops with its last socket.

    One feed per event loop and channel layer (``for_layer``): an ASGI process runs one loop.
    Delivery stays at-most-once (both layers); the sockets' refresh timers repair what is lost.
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.watching: dict[Watcher, frozenset[int]] = {}  # socket → the members it shows
        self.watchers: dict[int, set[Watcher]] = {}  # member → the sockets showing them
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

    async def watch(self, consumer: Watcher, members: Iterable[int]) -> None:
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

    async def unwatch(self, consumer: Watcher) -> None:
        """``consumer`` is gone: it gets nothing more; the feed stops with its last socket."""
        if consumer not in self.watching:
            return
        self._forget(consumer, self.watching.pop(consumer))
        if self.watching:
            await self._sync_groups()
        elif not self.stopped:
            await self._stop()

    def _forget(self, consumer: Watcher, members: Iterable[int]) -> None:
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
                for chunk in chunks(adds, GROUP_ADDS_AT_ONCE):
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


#: The feed of each event loop (an ASGI process runs one; tests run one per test).
_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MemberFeed] = weakref.WeakKeyDictionary()
