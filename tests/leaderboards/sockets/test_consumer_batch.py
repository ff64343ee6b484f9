"""Batched live boards (``rank.batch``) against the real ``config.asgi.application``.

A client that subscribes with ``"batch": true`` (or opens the socket with ``?batch=1``) gets one
``rank.batch`` frame per flush whose deltas are exactly the ``rank.changed`` messages a plain
client gets, seqs included; plain clients are unchanged. Every communicator is disconnected.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from leaderboards.live.protocol import ErrorCode
from tests.leaderboards.conftest import connect, live_socket, rows, scored, subscribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_ticks")]
MEMBER_NEWS = {"notification", "me.changed"}  # other features' messages on the same socket

BOB_PASSES_ALICE = [
    {"type": "rank.changed", "board": "friends", "seq": 2, "username": "bob", "old_rank": 2, "new_rank": 1,
     "old_score": 650, "new_score": 720, "band": "Excellent", "is_me": False, "cause": "event"},
    {"type": "rank.changed", "board": "friends", "seq": 3, "username": "alice", "old_rank": 1, "new_rank": 2,
     "old_score": 700, "new_score": 700, "band": "Excellent", "is_me": True, "cause": "shift",
     "passed_by": ["bob"]},
]


async def board_messages(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next ``count`` board messages, skipping the member's own news (in any order)."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] in MEMBER_NEWS:
            continue
        out.append(message)
    return out


async def quiet(communicator: WebsocketCommunicator, timeout: float = 0.4) -> list[dict[str, Any]]:
    """Board messages that arrive within ``timeout`` (member news skipped): [] when quiet."""
    out = []
    while not await communicator.receive_nothing(timeout=timeout):
        message = await communicator.receive_json_from()
        if message["type"] not in MEMBER_NEWS:
            out.append(message)
    return out


async def test_a_batched_client_gets_one_frame_with_the_deltas_a_plain_client_gets_one_by_one(cast):
    batched = await connect(cast["alice"])
    plain = await connect(cast["alice"])  # the same member and board, on a socket that did not opt in
    mallory = await connect(cast["mallory"])
    try:
        assert (await subscribe(batched, "friends", batch=True))["seq"] == 1
        assert (await subscribe(plain, "friends"))["seq"] == 1
        await subscribe(mallory, "friends", batch=True)

        await database_sync_to_async(scored)(cast["bob"], 720)

        assert await board_messages(batched, 1) == [{"type": "rank.batch", "board": "friends",
                                                     "deltas": BOB_PASSES_ALICE}]
        assert await board_messages(plain, 2) == BOB_PASSES_ALICE
        assert await quiet(batched) == []
        assert await quiet(plain) == []
        assert await mallory.receive_nothing(timeout=0.5)  # a stranger: nothing at all
    finally:
        for communicator in (batched, plain, mallory):
            await communicator.disconnect()


async def test_batch_on_the_socket_url_and_seqs_stay_consecutive_across_frames(cast, settings):
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.5
    async with live_socket(cast["alice"], "/ws/leaderboards/?board=friends&batch=1") as alice:
        snapshot = await alice.receive_json_from(timeout=3)
        assert (snapshot["type"], snapshot["seq"], rows(snapshot["entries"])) == (
            "snapshot", 1, [(1, "alice", 700), (2, "bob", 650)])

        def burst() -> None:
            for score in (660, 670, 720):
                scored(cast["bob"], score)

        await database_sync_to_async(burst)()
        # The first change goes out at once; the rest of the burst one tick later, in one frame.
        first, rest = await board_messages(alice, 2)
        assert [(d["seq"], d["username"], d["old_score"], d["new_score"]) for d in first["deltas"]] == [
            (2, "bob", 650, 660)]
        assert rest["type"] == "rank.batch"
        assert [(d["seq"], d["username"], d["old_rank"], d["new_rank"], d["new_score"]) for d in rest["deltas"]] == [
            (3, "bob", 2, 1, 720), (4, "alice", 1, 2, 700)]
        assert await quiet(alice, timeout=0.8) == []


async def test_a_gap_inside_a_batch_is_repaired_by_resync_and_the_board_stays_batched(cast):
    async with live_socket(cast["alice"]) as alice:
        await subscribe(alice, "friends", batch=True)
        await database_sync_to_async(scored)(cast["bob"], 720)
        [frame] = await board_messages(alice, 1)
        # The client lost the first delta (seq 2): the second one (seq 3) shows the gap.
        seen = 1
        gap = next(d for d in frame["deltas"][1:] if d["seq"] != seen + 1)
        assert gap["seq"] == 3
        await alice.send_json_to({"type": "resync", "board": "friends"})
        snapshot = (await board_messages(alice, 1))[0]
        assert (snapshot["type"], snapshot["seq"], rows(snapshot["entries"])) == (
            "snapshot", 4, [(1, "bob", 720), (2, "alice", 700)])
        # Still batched, numbered on from the snapshot.
        await database_sync_to_async(scored)(cast["bob"], 730)
        [frame] = await board_messages(alice, 1)
        assert frame == {"type": "rank.batch", "board": "friends", "deltas": [
            {"type": "rank.changed", "board": "friends", "seq": 5, "username": "bob", "old_rank": 1, "new_rank": 1,
             "old_score": 720, "new_score": 730, "band": "Excellent", "is_me": False, "cause": "event"}]}


async def test_a_global_window_comes_batched_too(cast):
    async with live_socket(cast["alice"]) as alice:
        await subscribe(alice, "global", batch=True)
        await database_sync_to_async(scored)(cast["mallory"], 710)
        [frame] = await board_messages(alice, 1)
        assert frame["type"] == "rank.batch" and frame["board"] == "global"
        assert [(d["seq"], d["username"], d["old_rank"], d["new_rank"]) for d in frame["deltas"]] == [
            (2, "mallory", 4, 1), (3, "alice", 1, 2), (4, "bob", 2, 3), (5, "carol", 3, 4)]
        assert frame["deltas"][1]["passed_by"] == ["mallory"]


async def test_subscribing_again_without_batch_switches_back_to_one_frame_per_row(cast):
    async with live_socket(cast["alice"]) as alice:
        await subscribe(alice, "friends", batch=True)
        assert (await subscribe(alice, "friends", batch=False))["seq"] == 2
        await database_sync_to_async(scored)(cast["bob"], 720)
        assert [(m["type"], m["seq"]) for m in await board_messages(alice, 2)] == [
            ("rank.changed", 3), ("rank.changed", 4)]


@pytest.mark.parametrize("value", ["yes", 1, 0, None, [], {}])
async def test_a_batch_that_is_not_a_boolean_is_an_error_and_subscribes_nothing(cast, value):
    async with live_socket(cast["alice"]) as alice:
        await alice.send_json_to({"type": "subscribe", "board": "friends", "batch": value})
        error = await alice.receive_json_from(timeout=3)
        assert error["type"] == "error" and error["code"] == ErrorCode.INVALID_BATCH == "invalid_batch"
        assert "true or false" in error["detail"]
        await database_sync_to_async(scored)(cast["bob"], 720)
        assert await quiet(alice) == []  # not subscribed: bob's change is not sent
        # Still alive and well.
        assert (await subscribe(alice, "friends", batch=True))["seq"] == 1


async def test_a_bad_batch_on_the_socket_url_is_an_error_and_subscribes_nothing(cast):
    async with live_socket(cast["alice"], "/ws/leaderboards/?board=friends&batch=maybe") as alice:
        error = await alice.receive_json_from(timeout=3)
        assert (error["type"], error["code"]) == ("error", "invalid_batch")
        assert "maybe" in error["detail"]
        assert await quiet(alice) == []
        assert (await subscribe(alice, "friends"))["seq"] == 1
