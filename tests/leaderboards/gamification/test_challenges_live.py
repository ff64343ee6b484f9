"""Live challenge standings over the real ``config.asgi.application`` (always disconnected)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from leaderboards.gamification import challenges
from social.graph import services as social_services
from tests.leaderboards.conftest import befriend, member, scored

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
async def _flush_layer():  # type: ignore[no-untyped-def]
    yield
    await get_channel_layer().flush()


def _cookie(user) -> bytes:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def standings(communicator: WebsocketCommunicator) -> dict[str, Any]:
    """The next ``challenge.standings``, skipping the member's other news (``me.changed`` when
    their own score moved, ``notification``s) that other features send on the same socket."""
    while True:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] == "challenge.standings":
            return message
        assert message["type"] in {"me.changed", "notification"}, message


async def no_more_standings(communicator: WebsocketCommunicator, timeout: float = 0.3) -> bool:
    # receive_nothing, not a receive timeout: a timed-out receive kills the application.
    while not await communicator.receive_nothing(timeout=timeout):
        if (await communicator.receive_json_from())["type"] == "challenge.standings":
            return False
    return True


async def connect(user) -> WebsocketCommunicator:  # type: ignore[no-untyped-def]
    cookie = await database_sync_to_async(_cookie)(user)
    communicator = WebsocketCommunicator(application, "/ws/leaderboards/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.fixture
async def running():  # type: ignore[no-untyped-def]
    """alice challenged bob, who accepted; mallory is a stranger with a socket of her own."""
    def make() -> dict[str, Any]:
        alice, bob, mallory = member("alice", 700), member("bob", 650), member("mallory", 500)
        befriend(alice, bob)
        challenge = challenges.challenge_create(by=alice, opponents=[bob])
        challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
        return {"alice": alice, "bob": bob, "mallory": mallory, "challenge": challenge}

    return await database_sync_to_async(make)()


async def test_participants_receive_standings_and_a_stranger_nothing(running):
    alice, bob, mallory = [await connect(running[n]) for n in ("alice", "bob", "mallory")]
    try:
        await database_sync_to_async(scored)(running["bob"], 662)
        challenge = running["challenge"]
        expected = {"type": "challenge.standings", "challenge": challenge.pk, "status": "active",
                    "ends_at": challenge.ends_at.isoformat()}
        assert await standings(alice) == {**expected, "standings": [
            {"username": "bob", "points": 12, "hidden": False, "rank": 1, "is_winner": False, "is_me": False},
            {"username": "alice", "points": 0, "hidden": False, "rank": 2, "is_winner": False, "is_me": True}]}
        assert await standings(bob) == {**expected, "standings": [
            {"username": "bob", "points": 12, "hidden": False, "rank": 1, "is_winner": False, "is_me": True},
            {"username": "alice", "points": 0, "hidden": False, "rank": 2, "is_winner": False, "is_me": False}]}
        assert await mallory.receive_nothing(timeout=0.5)  # a stranger: nothing at all
        assert await no_more_standings(alice)
    finally:
        for communicator in (alice, bob, mallory):
            await communicator.disconnect()


async def test_the_finish_pushes_the_final_standings(running):
    alice = await connect(running["alice"])
    try:
        await database_sync_to_async(scored)(running["alice"], 703)
        assert (await standings(alice))["standings"][0]["points"] == 3
        finished = await database_sync_to_async(challenges.challenges_finish_due)(now=running["challenge"].ends_at)
        assert finished == 1
        message = await standings(alice)  # the result also arrives as notifications (and a badge)
        assert message["status"] == "finished"
        assert message["standings"] == [
            {"username": "alice", "points": 3, "hidden": False, "rank": 1, "is_winner": True, "is_me": True},
            {"username": "bob", "points": 0, "hidden": False, "rank": 2, "is_winner": False, "is_me": False}]
    finally:
        await alice.disconnect()


async def test_after_a_block_neither_sees_the_others_points(running):
    alice, bob = await connect(running["alice"]), await connect(running["bob"])
    try:
        await database_sync_to_async(social_services.block_create)(blocker=running["bob"], username="alice")
        await database_sync_to_async(scored)(running["alice"], 709)
        assert (await standings(alice))["standings"] == [
            {"username": "alice", "points": 9, "hidden": False, "rank": 1, "is_winner": False, "is_me": True},
            {"username": "bob", "points": None, "hidden": True, "rank": 2, "is_winner": False, "is_me": False}]
        assert (await standings(bob))["standings"] == [
            {"username": "alice", "points": None, "hidden": True, "rank": 1, "is_winner": False, "is_me": False},
            {"username": "bob", "points": 0, "hidden": False, "rank": 2, "is_winner": False, "is_me": True}]
    finally:
        for communicator in (alice, bob):
            await communicator.disconnect()
