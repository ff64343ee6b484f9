"""The services-mode channel layer on the real Redis: an idle socket's receive waits quietly.

redis-py's read timeout (5 s by default) equalled channels_redis' blocking BRPOP (5 s): an idle
receive timed out on the client just as Redis answered, and every socket logged "channel layer
unreachable" every 5 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer

from leaderboards.sockets.feed import retrying

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def services_layer_config(redis_url: str) -> dict:
    """The channel layer's config as base settings build it in services mode."""
    code = "import json; from config.settings import base as b; print(json.dumps(b.CHANNEL_LAYERS['default']))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url},
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_socket_timeout_outlasts_the_blocking_receive(redis_url):
    layer = services_layer_config(redis_url)
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    [host] = layer["CONFIG"]["hosts"]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout


async def test_an_idle_receive_logs_nothing(redis_url, caplog):
    config = services_layer_config(redis_url)["CONFIG"]
    config["hosts"][0]["address"] = redis_url
    layer = RedisChannelLayer(**config, prefix="credo-test-idle")
    channel = await layer.new_channel()
    receive = retrying(lambda: layer.receive(channel))
    with caplog.at_level(logging.WARNING, logger="leaderboards.sockets.feed"), pytest.raises(TimeoutError):
        await asyncio.wait_for(receive(), timeout=RedisChannelLayer.brpop_timeout + 1.5)
    assert [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()] == []
    await layer.flush()
