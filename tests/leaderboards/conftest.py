"""Leaderboard fixtures: scoring members the way the pipeline does, the two backends, live sockets,
and a Redis of the test's own."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import redis
from django.utils import timezone

from accounts.members.models import User
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.ledger.signals import score_changed
from scoring.model import band_for
from social.graph.models import Friendship, ordered_pair
from tests.factories import UserFactory


def scored(user: User, score: int, *, at: datetime | None = None, cause: str = "event") -> User:
    """Move ``user`` to ``score`` as scoring.ledger.services does: a ledger row, the member's
    denormalised score, then ``score_changed`` (its receivers run as they would after commit)."""
    at = at or timezone.now()
    old = User.objects.values_list("score", flat=True).get(pk=user.pk)
    row = ScoreChange.objects.create(
        member=user, cause=cause, old_score=old, new_score=score, old_base=None, new_base=float(score),
        old_social=None, new_social=0.0, old_factors=None, new_factors={}, explanation="test",
    )
    ScoreChange.objects.filter(pk=row.pk).update(created_at=at)
    ScoreState.objects.update_or_create(member=user, defaults={"base": float(score), "social": 0.0,
                                                               "score": score, "factors": {}})
    User.objects.filter(pk=user.pk).update(score=score, score_band=band_for(score), score_reached_at=at)
    score_changed.send(sender=ScoreState, member_id=user.pk, old_score=old, new_score=score, cause=cause,
                       explanation="test")
    user.refresh_from_db()
    return user


def member(username: str, score: int | None = None, *, at: datetime | None = None, global_board: bool = True,
           **fields: object) -> User:
    user = UserFactory(username=username, on_global_board=global_board, **fields)
    if score is not None:
        scored(user, score, at=at)
    return user


def befriend(first: User, second: User, *, at: datetime | None = None) -> Friendship:
    a, b = ordered_pair(first.pk, second.pk)
    return Friendship.objects.create(member_a_id=a, member_b_id=b, accepted_at=at or timezone.now())


@pytest.fixture
def redis_index(redis_url, settings):  # type: ignore[no-untyped-def]
    """Services mode for the boards: a private key prefix on the test Redis, dropped afterwards."""
    from leaderboards.boards import index

    settings.SERVICES_MODE = True
    settings.LEADERBOARDS_REDIS_URL = redis_url
    settings.LEADERBOARDS_REDIS_PREFIX = f"credo-test-lb-{uuid.uuid4().hex[:8]}"
    index.drop_all()
    index.replace(boards={})  # an empty, complete index: the sentinel is set
    yield index
    index.drop_all()


@pytest.fixture(params=["database", "redis"])
def backend(request) -> str:  # type: ignore[no-untyped-def]
    """Run a board test on both backends (Redis: needs REDIS_URL; CI provides it)."""
    if request.param == "redis":
        request.getfixturevalue("redis_index")
    return request.param


# --- live sockets (the WebSocket tests) ------------------------------------------------------------

ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture
async def quick_ticks(settings):  # type: ignore[no-untyped-def]
    """Live flushes every 50 ms instead of 250; the in-memory channel layer emptied afterwards."""
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.05
    yield
    from channels.layers import get_channel_layer

    await get_channel_layer().flush()


@pytest.fixture
async def cast():  # type: ignore[no-untyped-def]
    """alice 700, bob 650, carol 600, mallory 500 (a stranger); alice–bob and bob–carol are friends."""
    from channels.db import database_sync_to_async

    def make():  # type: ignore[no-untyped-def]
        alice, bob, carol, mallory = member("alice", 700), member("bob", 650), member("carol", 600), member(
            "mallory", 500)
        befriend(alice, bob)
        befriend(bob, carol)
        return {"alice": alice, "bob": bob, "carol": carol, "mallory": mallory}

    return await database_sync_to_async(make)()


def session_cookie(user: User) -> bytes:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user: User, path: str = "/ws/leaderboards/") -> Any:
    """A signed-in browser's socket to ``path`` (a connected ``WebsocketCommunicator``)."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    cookie = await database_sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@contextlib.asynccontextmanager
async def live_socket(user: User, path: str = "/ws/leaderboards/") -> AsyncIterator[Any]:
    """``connect``, disconnected at the end of the block whatever happens in it."""
    communicator = await connect(user, path)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def subscribe(communicator: Any, board: str = "friends", **options: Any) -> dict[str, Any]:
    """Subscribe to ``board`` (with protocol ``options``, e.g. ``batch=True``); returns the snapshot."""
    await communicator.send_json_to({"type": "subscribe", "board": board, **options})
    snapshot = await communicator.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot", snapshot
    return snapshot


def rows(entries: list[dict]) -> list[tuple[int, str, int]]:
    """(rank, username, score) of a snapshot's entries."""
    return [(e["rank"], e["username"], e["score"]) for e in entries]


# --- a Redis of the test's own, to stop and start ---------------------------------------------------

def _free_port(preferred: int = 6395) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


class PrivateRedis:
    """A throwaway redis-server we may stop and start (the shared one stays up)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(redis_url):  # type: ignore[no-untyped-def]
    """A ``PrivateRedis``, started (requires the shared Redis like every services test)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed to restart a private Redis")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()
