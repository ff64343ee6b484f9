"""The process's member feed (``leaderboards.sockets.feed.MemberFeed``) under real sockets.

A process joins each shown member's group once, whatever number of its sockets show that
member, hands each change to all of them, leaves the group when the last of them goes, and loses
no change that comes while a board is being read. Against the real ``config.asgi.application``
on the in-memory layer; every communicator is disconnected.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from config.asgi import application
from leaderboards.live import broadcast
from leaderboards.live.protocol import InternalType
from leaderboards.sockets.consumers import LeaderboardConsumer
from leaderboards.sockets.feed import MemberFeed
from tests.leaderboards.conftest import connect, rows, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_ticks")]


async def publish_score(user, old: int, new: int, *, reached: int) -> None:  # type: ignore[no-untyped-def]
    """The ``member.changed`` the scoring pipeline publishes (``broadcast.member_changed``), sent
    straight to the layer: no ledger row, no notification, nothing else on the sockets."""
    band = "Excellent" if new >= 700 else "Very good"
    await get_channel_layer().group_send(broadcast.member_group(user.pk), {
        "type": InternalType.MEMBER_CHANGED, "member_id": user.pk, "username": user.username,
        "old_score": old, "new_score": new, "band": band, "reached": reached, "listed": True, "on_global": True,
        "weekly_points": None, "cause": "event"})


def feed_channels(group: str) -> list[str]:
    """The channels in ``group`` on the in-memory layer."""
    return sorted(get_channel_layer().groups.get(group, {}))  # type: ignore[attr-defined]


async def joined(group: str) -> None:
    """Until the process's feed is in ``group`` (a socket accepts before it has joined anything)."""
    for _ in range(100):
        if feed_channels(group):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody joined {group}")


async def test_a_process_joins_a_members_group_once_and_hands_the_change_to_every_socket(cast):
    alice, carol, mallory = await connect(cast["alice"]), await connect(cast["carol"]), await connect(cast["mallory"])
    for socket in (alice, carol, mallory):
        await subscribe(socket)
    feed = MemberFeed.for_layer(get_channel_layer())
    bob_group = broadcast.member_group(cast["bob"].pk)
    # Two sockets show bob; the process is in his group once, on the feed's channel.
    assert feed_channels(bob_group) == [feed.channel]

    await publish_score(cast["bob"], 650, 720, reached=10**15)
    assert await alice.receive_json_from(timeout=3) == {
        "type": "rank.changed", "board": "friends", "seq": 2, "username": "bob", "old_rank": 2, "new_rank": 1,
        "old_score": 650, "new_score": 720, "band": "Excellent", "is_me": False, "cause": "event"}
    assert (await alice.receive_json_from(timeout=3))["username"] == "alice"  # passed: rank 1 → 2
    assert await carol.receive_json_from(timeout=3) == {
        "type": "rank.changed", "board": "friends", "seq": 2, "username": "bob", "old_rank": 1, "new_rank": 1,
        "old_score": 650, "new_score": 720, "band": "Excellent", "is_me": False, "cause": "event"}
    assert await mallory.receive_nothing(timeout=0.3)

    # The group stays while a socket still shows bob, and is left with the last one.
    await alice.disconnect()
    assert feed_channels(bob_group) == [feed.channel]
    await carol.disconnect()
    assert feed_channels(bob_group) == []
    await mallory.disconnect()
    # ... and the feed stopped with its last socket: every member's group is left.
    assert feed.stopped
    assert [g for g in get_channel_layer().groups if g.startswith("lb.member.")] == []  # type: ignore[attr-defined]


async def test_unsubscribing_leaves_the_groups_nobody_else_shows(cast):
    alice = await connect(cast["alice"])
    await subscribe(alice)
    feed = MemberFeed.for_layer(get_channel_layer())
    bob_group, alice_group = broadcast.member_group(cast["bob"].pk), broadcast.member_group(cast["alice"].pk)
    assert feed_channels(bob_group) == [feed.channel]
    await alice.send_json_to({"type": "unsubscribe", "board": "friends"})
    await asyncio.sleep(0.2)
    assert feed_channels(bob_group) == []
    assert feed_channels(alice_group) == [feed.channel]  # her own changes still reach her (me.changed)
    await alice.disconnect()


async def test_a_change_that_comes_while_the_board_is_read_is_not_lost(cast, monkeypatch):
    """The index was read before bob's change; the change reached the socket during the read.
    The fresh board takes it, and the client gets it right after the snapshot, in seq order."""
    alice = await connect(cast["alice"])
    await subscribe(alice)
    read, go = threading.Event(), threading.Event()
    load_sync = LeaderboardConsumer._load_sync

    def slow_load(self, name):  # type: ignore[no-untyped-def]
        fresh = load_sync(self, name)
        read.set()
        go.wait(timeout=5)
        return fresh

    monkeypatch.setattr(LeaderboardConsumer, "_load_sync", slow_load)
    await alice.send_json_to({"type": "resync", "board": "friends"})
    assert await asyncio.to_thread(read.wait, 5)
    await publish_score(cast["bob"], 650, 720, reached=10**15)
    await asyncio.sleep(0.2)  # the feed hands it to the socket, still reading
    go.set()

    snapshot = await alice.receive_json_from(timeout=3)
    assert (snapshot["type"], snapshot["seq"], rows(snapshot["entries"])) == (
        "snapshot", 2, [(1, "alice", 700), (2, "bob", 650)])
    assert await alice.receive_json_from(timeout=3) == {
        "type": "rank.changed", "board": "friends", "seq": 3, "username": "bob", "old_rank": 2, "new_rank": 1,
        "old_score": 650, "new_score": 720, "band": "Excellent", "is_me": False, "cause": "event"}
    assert await alice.receive_json_from(timeout=3) == {
        "type": "rank.changed", "board": "friends", "seq": 4, "username": "alice", "old_rank": 1, "new_rank": 2,
        "old_score": 700, "new_score": 700, "band": "Excellent", "is_me": True, "cause": "shift",
        "passed_by": ["bob"]}
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()


async def test_the_members_own_changes_become_one_me_changed_per_flush(cast, settings):
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.5
    alice = await connect(cast["alice"])  # no board: a dashboard's socket
    await joined(broadcast.member_group(cast["alice"].pk))
    for n, score in enumerate((705, 710, 715)):
        await publish_score(cast["alice"], 700 + 5 * n, score, reached=10**15 + n)
    # The first goes out at once (leading edge), the other two together a tick later.
    assert await alice.receive_json_from(timeout=1) == {"type": "me.changed", "what": ["score"]}
    assert await alice.receive_json_from(timeout=2) == {"type": "me.changed", "what": ["score"]}
    assert await alice.receive_nothing(timeout=0.8)
    await alice.disconnect()


async def test_a_stranger_who_shows_nobody_costs_the_process_only_their_own_group(cast):
    mallory = await connect(cast["mallory"])
    await subscribe(mallory)
    feed = MemberFeed.for_layer(get_channel_layer())
    assert feed.joined == {cast["mallory"].pk}
    assert [g for g in get_channel_layer().groups if g.startswith("lb.member.")] == [  # type: ignore[attr-defined]
        broadcast.member_group(cast["mallory"].pk)]
    await publish_score(cast["bob"], 650, 720, reached=10**15)
    assert await mallory.receive_nothing(timeout=0.3)
    await mallory.disconnect()


async def test_a_socket_that_cannot_send_holds_up_nobody_else(cast, monkeypatch):
    """alice's client reads nothing (her sends wait); carol, on the same process, still gets bob."""
    alice, carol = await connect(cast["alice"]), await connect(cast["carol"])
    await subscribe(alice)
    await subscribe(carol)
    stuck = asyncio.Event()
    flush = LeaderboardConsumer.flush

    async def slow_flush(self):  # type: ignore[no-untyped-def]
        if self.member.username == "alice":
            await stuck.wait()
        return await flush(self)

    monkeypatch.setattr(LeaderboardConsumer, "flush", slow_flush)
    await publish_score(cast["bob"], 650, 720, reached=10**15)
    carols = await carol.receive_json_from(timeout=3)
    assert (carols["seq"], carols["username"], carols["new_score"]) == (2, "bob", 720)
    assert await alice.receive_nothing(timeout=0.3)
    stuck.set()
    alices = await alice.receive_json_from(timeout=3)
    assert (alices["seq"], alices["username"], alices["new_score"]) == (2, "bob", 720)
    await alice.disconnect()
    await carol.disconnect()


async def test_a_socket_whose_handler_failed_leaves_the_feed(cast, monkeypatch):
    alice = await connect(cast["alice"])
    await joined(broadcast.member_group(cast["alice"].pk))
    feed = MemberFeed.for_layer(get_channel_layer())

    def broken(self, name):  # type: ignore[no-untyped-def]
        raise RuntimeError("the index is down")

    monkeypatch.setattr(LeaderboardConsumer, "_load_sync", broken)
    await alice.send_json_to({"type": "subscribe", "board": "friends"})
    with pytest.raises(RuntimeError, match="the index is down"):
        await alice.receive_output(timeout=3)
    # No disconnect() came, and yet the socket is off the feed (it was the last: the feed stopped).
    assert (feed.watching, feed.stopped) == ({}, True)
    assert [g for g in get_channel_layer().groups if g.startswith("lb.")] == []  # type: ignore[attr-defined]


async def test_a_token_revoked_without_auth_check_closes_its_socket_at_the_process_recheck(
        cast, settings, api_as, monkeypatch):
    """The logout's ``auth.check`` was lost (the token row just went): the process's periodic
    re-check finds it in one pass over all its sockets; only the failing socket checks itself."""
    from knox.models import AuthToken

    settings.LEADERBOARDS_AUTH_RECHECK_SECONDS = 0.5

    def tickets() -> list[str]:
        return [api_as(cast[name]).post("/api/v1/ws-ticket/").json()["ticket"] for name in ("bob", "carol")]

    sockets = []
    for ticket in await database_sync_to_async(tickets)():
        socket = WebsocketCommunicator(application, f"/ws/leaderboards/?ticket={ticket}&board=friends")
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from(timeout=3))["type"] == "snapshot"
        sockets.append(socket)
    bob, carol = sockets
    checked_alone: list[str] = []
    credentials_valid = LeaderboardConsumer._credentials_valid

    def counted(self):  # type: ignore[no-untyped-def]
        checked_alone.append(self.member.username)
        return credentials_valid(self)

    monkeypatch.setattr(LeaderboardConsumer, "_credentials_valid", counted)
    await database_sync_to_async(AuthToken.objects.filter(user=cast["bob"]).delete)()

    assert await bob.receive_json_from(timeout=4) == {
        "type": "error", "code": "not_authenticated", "detail": "You were logged out."}
    assert await bob.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    assert await carol.receive_nothing(timeout=1.2)  # two more re-checks: still open
    assert checked_alone == ["bob"]
    await bob.disconnect()
    await carol.disconnect()


async def test_a_receive_that_fails_does_not_silence_the_process(cast, monkeypatch):
    """Anything the layer raises on a receive (not only Redis being down) is logged and the feed
    goes on: otherwise every socket of the process would stop hearing changes."""
    monkeypatch.setattr("leaderboards.sockets.feed.FEED_ERROR_PAUSE_SECONDS", 0.01)
    layer = get_channel_layer()
    real_receive = layer.receive
    failures: list[str] = []

    async def failing_once(channel: str) -> dict[str, Any]:
        if channel == MemberFeed.for_layer(layer).channel and not failures:
            failures.append(channel)
            raise ValueError("could not unpack a message")
        return await real_receive(channel)

    monkeypatch.setattr(layer, "receive", failing_once)
    alice = await connect(cast["alice"])
    await subscribe(alice)
    await joined(broadcast.member_group(cast["bob"].pk))
    for _ in range(100):
        if failures:
            break
        await asyncio.sleep(0.02)
    assert failures  # the feed's receive failed once ...
    await publish_score(cast["bob"], 650, 720, reached=10**15)
    moved = await alice.receive_json_from(timeout=3)  # ... and the change still arrives
    assert (moved["username"], moved["old_rank"], moved["new_rank"]) == ("bob", 2, 1)
    await alice.disconnect()
