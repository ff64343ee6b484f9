"""Services mode for real: the Redis index, its rebuild, and a channels_redis layer surviving a
Redis restart. Marked ``services``: needs REDIS_URL (CI provides it; the fixtures FAIL there)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from accounts.members.models import User
from leaderboards.boards import index, services
from leaderboards.boards.ranking import encode as ranking_encode
from leaderboards.boards.ranking import member_key
from leaderboards.live import protocol
from tests.leaderboards.conftest import befriend, member, scored

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[3]
WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def snapshot_of_index() -> dict[str, list[tuple[str, float]]]:
    r = index.client()
    k = index.keys()
    season = services.season_current()
    return {name: r.zrevrange(key, 0, -1, withscores=True)
            for name, key in [("all", k.all), ("global", k.global_), ("weekly", k.weekly(season.pk))]}


@pytest.mark.django_db
def test_rebuild_from_the_database_equals_the_incremental_index(redis_index):
    with time_machine.travel(WEDNESDAY - timedelta(days=5), tick=False):
        people = [member(f"m{n:02d}", 500 + (n * 37) % 300) for n in range(40)]
    with time_machine.travel(WEDNESDAY, tick=True):
        for n, person in enumerate(people):
            if n % 3 == 0:
                scored(person, 520 + (n * 53) % 400)
            if n % 7 == 0:
                User.objects.filter(pk=person.pk).update(on_global_board=False)
                services.member_listing_changed(member_id=person.pk)
            if n % 11 == 0:
                User.objects.filter(pk=person.pk).update(private_mode=True)
                services.member_listing_changed(member_id=person.pk)
        incremental = snapshot_of_index()
        assert len(incremental["all"]) == 36 and len(incremental["weekly"]) > 5
        index.drop_all()
        call_command("leaderboards_rebuild", stdout=open(os.devnull, "w"))  # noqa: SIM115
        assert snapshot_of_index() == incremental
        assert index.is_ready()


@pytest.mark.django_db(transaction=True)
def test_an_empty_index_rebuilds_itself_and_is_served_from_the_database_meanwhile(redis_index):
    alice = member("alice", 700)
    member("bob", 650)
    expected = [(e.rank, e.username) for e in services.board_for(protocol.GLOBAL, viewer=alice)
                .view(viewer_id=alice.pk).entries]
    index.drop_all()  # Redis restarted: everything is gone
    assert not index.is_ready()
    view = services.board_for(protocol.GLOBAL, viewer=alice).view(viewer_id=alice.pk)
    assert [(e.rank, e.username) for e in view.entries] == expected
    # The read noticed and (Celery eager in tests) rebuilt the index right away.
    assert index.is_ready()
    assert index.client().zcard(index.keys().global_) == 2
    assert not index.client().exists(index.keys().lock)


@pytest.mark.django_db
def test_writes_are_pipelined_in_one_round_trip(redis_index, monkeypatch):
    alice = member("alice", 600)
    calls: list[str] = []
    real = redis.client.Pipeline.execute

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("execute")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted)
    scored(alice, 610)
    assert calls == ["execute"]
    assert index.client().zscore(index.keys().global_, member_key(alice.pk)) is not None


def test_a_batch_is_written_with_one_command_per_board_and_kind(redis_index):
    r, k = index.client(), index.keys()
    season_id = 7
    index.apply([index.MemberState(1, 700, 10, True, True, (season_id, 12, 10), username="ann", band="Good"),
                 index.MemberState(2, 650, 20, True, True, (season_id, 5, 20), username="bo", band="Fair")],
                season_id=season_id)
    sent: list[tuple[str, ...]] = []
    real = redis.client.Pipeline.pipeline_execute_command

    def recorded(self, *args, **options):  # type: ignore[no-untyped-def]
        sent.append(tuple(str(a) for a in args[:2]))
        return real(self, *args, **options)

    states = [
        index.MemberState(1, 710, 30, True, False, (season_id, 22, 30), username="ann", band="Good"),  # off global
        index.MemberState(2, 650, 20, False, False, None, username="bo", band="Fair"),  # private mode
        index.MemberState(3, None, 0, False, False, None, username="cy"),  # no score yet
        index.MemberState(4, 600, 40, True, True, (season_id, 0, 40), username="di", band="Fair"),
        index.MemberState(4, 605, 50, True, True, (season_id, 5, 50), username="di", band="Fair"),  # twice: last wins
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.client.Pipeline, "pipeline_execute_command", recorded)
        version = index.apply(states, season_id=season_id)
    assert sent == [("HSET", k.cards), ("ZADD", k.all), ("ZREM", k.all), ("ZADD", k.global_),
                    ("ZREM", k.global_), ("ZADD", k.weekly(season_id)), ("ZREM", k.weekly(season_id)),
                    ("INCRBY", k.version)]
    assert version == int(r.get(k.version))
    names = [member_key(n).encode() for n in (1, 2, 3, 4)]
    assert r.zrevrange(k.all, 0, -1, withscores=True) == [
        (names[0], ranking_encode(710, 30)), (names[3], ranking_encode(605, 50))]
    assert r.zrevrange(k.global_, 0, -1, withscores=True) == [(names[3], ranking_encode(605, 50))]
    assert r.zrevrange(k.weekly(season_id), 0, -1, withscores=True) == [(names[3], ranking_encode(5, 50))]
    assert r.hmget(k.cards, names) == [b"710:30:Good:ann", b"650:20:Fair:bo", b"", b"605:50:Fair:di"]


def test_channels_redis_layer_has_the_settings_design_asks_for(redis_url):
    """DESIGN.md §11: max_connections set in the host config, capacity above 100."""
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    out = subprocess.run(
        [sys.executable, "-c", "import json; from config.settings import base; "
         "print(json.dumps(base.CHANNEL_LAYERS['default']))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout
    layer = json.loads(out)
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"][0]["max_connections"] >= 1000
    assert layer["CONFIG"]["capacity"] > 100


# --- a Redis restart under live sockets -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_live_boards_recover_after_a_redis_restart(private_redis, settings):
    from django.test import Client

    from config.asgi import application
    from config.settings import base

    settings.SERVICES_MODE = True
    settings.LEADERBOARDS_REDIS_URL = private_redis.url
    settings.LEADERBOARDS_REDIS_PREFIX = f"credo-test-lb-{uuid.uuid4().hex[:8]}"
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.05
    settings.LEADERBOARDS_GROUP_REFRESH_SECONDS = 0.5
    config = dict(base.CHANNEL_LAYERS["default"].get("CONFIG", {}))
    config.update({"hosts": [{"address": private_redis.url, "max_connections": 1000}], "capacity": 1500})
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}

    def setup():  # type: ignore[no-untyped-def]
        index.replace(boards={})
        alice = member("alice", 700)
        bob = member("bob", 650)
        befriend(alice, bob)
        client = Client()
        client.force_login(alice)
        return alice, bob, f"sessionid={client.cookies['sessionid'].value}".encode()

    alice, bob, cookie = await database_sync_to_async(setup)()
    socket_ = WebsocketCommunicator(application, "/ws/leaderboards/",
                                    headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)])
    assert (await socket_.connect())[0]
    await socket_.send_json_to({"type": "subscribe", "board": "friends"})
    assert (await socket_.receive_json_from(timeout=3))["type"] == "snapshot"

    await database_sync_to_async(scored)(bob, 710)
    assert (await socket_.receive_json_from(timeout=3))["username"] == "bob"

    # Redis restarts empty: group memberships, queued messages and the index are gone.
    await asyncio.to_thread(private_redis.stop)
    await asyncio.sleep(0.3)
    await asyncio.to_thread(private_redis.start)
    assert not await asyncio.to_thread(index.is_ready)
    await asyncio.sleep(1.5)  # the consumer re-adds its groups (every 0.5 s here)

    await database_sync_to_async(scored)(bob, 720)
    message = await socket_.receive_json_from(timeout=5)
    while message["type"] != "rank.changed" or message.get("new_score") != 720:  # a refresh may come first
        message = await socket_.receive_json_from(timeout=5)
    assert (message["username"], message["old_score"], message["new_score"]) == ("bob", 710, 720)

    # And the index noticed it was empty and rebuilt itself on the next read.
    view = await database_sync_to_async(
        lambda: services.board_for(protocol.GLOBAL, viewer=alice).view(viewer_id=alice.pk))()
    assert [(e.rank, e.username, e.score) for e in view.entries] == [(1, "bob", 720), (2, "alice", 700)]
    assert await asyncio.to_thread(index.is_ready)
    await socket_.disconnect()
