"""The one way real-time events leave the app (STYLE.md §4).

Messages are JSON-safe dicts with a ``type`` (``protocol.InternalType``), sent after the current
transaction commits, to groups named here and nowhere else:

* ``lb.member.<id>``: one publish per changed member; each ASGI process's live feed
  (``leaderboards.sockets.feed.MemberFeed``) joins it once while any of its sockets shows that
  member (friends boards, global/weekly windows) and hands the change to those sockets.
* ``lb.user.<id>``: the member's own sockets only (their friendships changed, they logged out,
  news about them: ``member_push``).

Delivery is at-most-once (both channel layers): consumers also refresh on a timer and clients
resync on a sequence gap, so a lost message costs a few seconds, never a wrong board for long.

Each delivery from synchronous code is one ``async_to_sync`` hop (≈ 3 ms here, far more than the
publish itself), so code that publishes for many members wraps its work in ``batch()``: messages
whose transaction has committed are then collected and delivered in one hop when the outermost
``batch()`` ends, several groups at a time, each group's in the order they were sent. Every Celery
task runs inside one (``receivers``: opened before the task, closed after it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config.kernel.after_commit import call_on_commit
from leaderboards.live.protocol import InternalType

logger = logging.getLogger(__name__)

#: How many groups one delivery publishes to at a time (each in flight holds a Redis connection).
DELIVERY_CONCURRENCY = 32


def member_group(member_id: int) -> str:
    return f"lb.member.{member_id}"


def user_group(member_id: int) -> str:
    return f"lb.user.{member_id}"


class _Batch(threading.local):
    depth = 0
    outbox: list[tuple[str, dict[str, Any]]]


_batch = _Batch()


@contextmanager
def batch() -> Iterator[None]:
    """Collect the committed messages sent inside, and deliver them all in one hop at the end of
    the outermost ``batch()`` (also when the block raises: what committed is still news)."""
    batch_open()
    try:
        yield
    finally:
        batch_close()


def batch_open() -> None:
    """``batch()`` as two calls, for hooks that cannot wrap a block (a Celery task's pre/post run)."""
    if _batch.depth == 0:
        _batch.outbox = []
    _batch.depth += 1


def batch_close() -> None:
    if _batch.depth == 0:
        return  # unbalanced close (a hook that opened nothing): nothing to deliver
    _batch.depth -= 1
    if _batch.depth == 0:
        outbox, _batch.outbox = _batch.outbox, []
        _deliver(outbox)


def send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` once the current transaction commits (now, outside one;
    inside a ``batch()``, at its end)."""
    assert isinstance(message.get("type"), str), "a channel message needs a type"
    json.dumps(message)  # JSON-safe or fail here, in the caller, not in a consumer
    call_on_commit(_committed, group, message)


def _committed(group: str, message: dict[str, Any]) -> None:
    """``message``'s transaction committed: into the open ``batch()``, or out now."""
    if _batch.depth:
        _batch.outbox.append((group, message))
    else:
        _deliver([(group, message)])


def _deliver(outbox: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish ``outbox`` in one hop: groups side by side (a batch publishes for thousands of
    members, one Redis round trip each), each group's messages in the order they were sent."""
    layer = get_channel_layer()
    if layer is None or not outbox:
        return
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in outbox:
        by_group.setdefault(group, []).append(message)

    async def publish_all() -> None:
        slots = asyncio.Semaphore(DELIVERY_CONCURRENCY)

        async def publish(group: str, messages: list[dict[str, Any]]) -> None:
            async with slots:
                for message in messages:
                    try:
                        try:
                            await layer.group_send(group, message)
                        except (ConnectionError, redis.ConnectionError):
                            # A pooled connection from before a Redis restart (a long-lived
                            # event loop's: an ASGI process) fails once; a second try takes a
                            # fresh one. Should the first have reached Redis after all, the
                            # message arrives twice: harmless for a rank (the same state), a
                            # pushed notification shows twice until the next refresh.
                            await layer.group_send(group, message)
                    except Exception:
                        # Live updates are best effort (consumers refresh on a timer); never fail
                        # the scoring pipeline because the channel layer hiccuped.
                        logger.exception("could not publish %s to %s", message["type"], group)

        await asyncio.gather(*(publish(group, messages) for group, messages in by_group.items()))

    try:
        async_to_sync(publish_all)()
    except Exception:
        logger.exception("could not publish %d live messages", len(outbox))


def member_changed(*, member_id: int, username: str, old_score: int | None, new_score: int | None,
                   band: str, reached: int, listed: bool, on_global: bool, weekly_points: int | None,
                   cause: str) -> None:
    """A member's score or listing moved. Unlisted members (private, inactive) carry no score."""
    send(member_group(member_id), {
        "type": InternalType.MEMBER_CHANGED,
        "member_id": member_id,
        "username": username,
        "old_score": old_score if listed else None,
        "new_score": new_score if listed else None,
        "band": band if listed else "",
        "reached": reached,
        "listed": listed,
        "on_global": on_global,
        "weekly_points": weekly_points if on_global else None,
        "cause": cause,
    })


def friends_changed(*, member_ids: list[int]) -> None:
    for member_id in member_ids:
        send(user_group(member_id), {"type": InternalType.FRIENDS_CHANGED})


def auth_check(*, member_id: int) -> None:
    send(user_group(member_id), {"type": InternalType.AUTH_CHECK})


def member_push(*, member_id: int, payload: dict[str, Any]) -> None:
    """Send ``payload`` (a ``protocol.MessageType`` message about the member themself:
    ``notification``, ``challenge.standings``, ``me.changed``) to all of the member's open
    sockets, whatever boards they show. Offline members cost one publish to an empty group."""
    assert isinstance(payload.get("type"), str), "a client message needs a type"
    send(user_group(member_id), {"type": InternalType.CLIENT_PUSH, "payload": payload})
