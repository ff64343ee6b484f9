"""The member feed on the real channels_redis layers (core and pub/sub), Redis restart included.

Marked ``services``: needs REDIS_URL and redis-server (a private one is started, stopped and
started again; the shared one is never touched).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from leaderboards.boards import index
from leaderboards.live import broadcast
from leaderboards.live.protocol import InternalType
from leaderboards.sockets.feed import MemberFeed
from tests.leaderboards.conftest import befriend, member, scored

pytestmark = pytest.mark.services
LAYERS = {"core": "channels_redis.core.RedisChannelLayer", "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}


@pytest.fixture(params=sorted(LAYERS))
def live_redis(request, private_redis, settings):  # type: ignore[no-untyped-def]
    """Services mode on a private Redis, with the layer of ``request.param``."""
    settings.SERVICES_MODE = True
    settings.LEADERBOARDS_REDIS_URL = private_redis.url
    settings.LEADERBOARDS_REDIS_PREFIX = f"credo-test-lb-{uuid.uuid4().hex[:8]}"
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.05
    settings.LEADERBOARDS_GROUP_REFRESH_SECONDS = 0.5
    config: dict[str, Any] = {"hosts": [{"address": private_redis.url, "max_connections": 1000}]}
    if request.param == "core":
        config["capacity"] = 1500
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYERS[request.param], "CONFIG": config}}
    return request.param, private_redis


async def connect(user) -> WebsocketCommunicator:  # type: ignore[no-untyped-def]
    def cookie() -> bytes:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    socket = WebsocketCommunicator(application, "/ws/leaderboards/",
                                   headers=[(b"origin", b"http://testserver"), (b"cookie", await database_sync_to_async(
                                       cookie)())])
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "subscribe", "board": "friends"})
    assert (await socket.receive_json_from(timeout=3))["type"] == "snapshot"
    return socket


async def bob_at(socket: WebsocketCommunicator, score: int) -> dict[str, Any]:
    """The next ``rank.changed`` that shows bob at ``score`` (a refresh or news may come first)."""
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == "rank.changed" and message["username"] == "bob" and message["new_score"] == score:
            return message


@pytest.mark.django_db(transaction=True)
async def test_two_sockets_one_subscription_and_both_recover_after_a_redis_restart(live_redis):
    layer_name, server = live_redis

    def setup():  # type: ignore[no-untyped-def]
        index.replace(boards={})
        alice, bob, carol = member("alice", 700), member("bob", 650), member("carol", 600)
        befriend(alice, bob)
        befriend(bob, carol)
        return alice, bob, carol

    alice, bob, carol = await database_sync_to_async(setup)()
    alices, carols = await connect(alice), await connect(carol)
    feed = MemberFeed.for_layer(get_channel_layer())
    r = redis.Redis.from_url(server.url)
    if layer_name == "core":
        # The group holds the process once (the feed's channel), not once per socket showing bob.
        members = await asyncio.to_thread(r.zrange, f"asgi:group:{broadcast.member_group(bob.pk)}", 0, -1)
        assert [m.decode() for m in members] == [feed.channel]
    else:
        [(_, subscribers)] = await asyncio.to_thread(r.pubsub_numsub, f"asgi__group__{broadcast.member_group(bob.pk)}")
        assert subscribers == 1

    await database_sync_to_async(scored)(bob, 710)
    assert (await bob_at(alices, 710))["old_score"] == 650
    assert (await bob_at(carols, 710))["old_score"] == 650

    # Redis restarts empty: subscriptions, group memberships and queued messages are gone.
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(0.3)
    await asyncio.to_thread(server.start)
    await asyncio.sleep(2.5)  # the feed re-joins its groups (every 0.5 s here) once Redis answers

    # A publish on a pooled connection from before the restart fails once (the broadcaster logs
    # and drops it: at-most-once, the sockets' refresh repairs it); publish until one goes out.
    for attempt in range(5):
        try:
            await get_channel_layer().group_send(broadcast.member_group(bob.pk), {
                "type": InternalType.MEMBER_CHANGED, "member_id": bob.pk, "username": "bob", "old_score": 710,
                "new_score": 720, "band": "Excellent", "reached": 10**15, "listed": True, "on_global": True,
                "weekly_points": None, "cause": "event"})
            break
        except redis.ConnectionError:
            assert attempt < 4
    for socket in (alices, carols):
        message = await bob_at(socket, 720)
        assert (message["old_score"], message["new_score"]) == (710, 720)
    await alices.disconnect()
    await carols.disconnect()
    assert feed.stopped
