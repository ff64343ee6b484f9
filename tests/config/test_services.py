"""The services mode's real parts: channels_redis and a Celery worker on the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def layer_config(redis_url: str) -> dict:
    """The services-mode layer config of base settings, pointed at the test Redis."""
    from config.settings import base

    config = dict(base.CHANNEL_LAYERS["default"]["CONFIG"]) if base.SERVICES_MODE else {}
    config["hosts"] = [{"address": redis_url, "max_connections": 1000}]
    return config


async def test_channels_redis_group_round_trip(redis_url):
    layer = RedisChannelLayer(**layer_config(redis_url), prefix="credo-test")
    channel = await layer.new_channel()
    await layer.group_add("credo-test-group", channel)
    await layer.group_send("credo-test-group", {"type": "rank.changed", "seq": 1})
    message = await layer.receive(channel)
    assert message == {"type": "rank.changed", "seq": 1}
    await layer.group_discard("credo-test-group", channel)
    await layer.flush()


async def test_services_layer_defaults_that_break_silently_are_set(redis_url):
    """DESIGN.md §11: the async pool must allow many connections and capacity must exceed 100."""
    env = {**os.environ, "REDIS_URL": redis_url}
    code = (
        "from config.settings import base as b;"
        "c=b.CHANNEL_LAYERS['default']['CONFIG'];"
        "print(c['hosts'][0]['max_connections'], c['capacity'])"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    max_connections, capacity = map(int, result.stdout.split())
    assert max_connections >= 1000
    assert capacity > 100


def test_a_real_celery_worker_answers_on_redis(redis_url):
    import redis

    # Leftover tasks of earlier tests would keep a solo worker busy and deaf to pings.
    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--loglevel=WARNING", "--hostname=ci-probe@%h", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        from celery import Celery

        app = Celery(broker=redis_url)
        deadline = time.monotonic() + 60
        replies: list = []

        def probe_answered() -> bool:
            return any(name.startswith("ci-probe@") for reply in replies for name in reply)

        # Wait for OUR worker's reply: another test's worker may still be shutting down.
        while time.monotonic() < deadline and not probe_answered():
            replies = app.control.ping(timeout=1.0)
            if worker.poll() is not None:
                break
        assert probe_answered(), (
            worker.stdout.read() if worker.poll() is not None else "no reply"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
