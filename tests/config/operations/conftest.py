"""Operations fixtures: services mode on a Redis of the test's own, which a test may stop, hang
and start again (the shared Redis is never touched)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from config.celery import app as celery_app
from config.operations import health
from tests.leaderboards.conftest import PrivateRedis, _free_port

#: Where the private Redis listens unless that port is taken (bench/chaos.py uses 6390).
PRIVATE_REDIS_PORT = 6391


@pytest.fixture(autouse=True)
def _migrations_unseen() -> Iterator[None]:
    """Each test asks about migrations afresh (a process remembers having seen them complete)."""
    health._MIGRATIONS_COMPLETE.clear()
    yield
    health._MIGRATIONS_COMPLETE.clear()


@pytest.fixture
def own_redis(redis_url: str) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed to stop and start a private Redis")
    server = PrivateRedis()
    server.port = _free_port(PRIVATE_REDIS_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def services_on(own_redis: PrivateRedis, settings: Any) -> Iterator[PrivateRedis]:
    """This process in services mode on ``own_redis``: Redis, the channel layer (channels_redis,
    as config.settings.base builds it), the Celery broker and the leaderboard index. Tasks still
    run in-process (the suite's eager Celery), so a rebuild the readiness check starts finishes
    within that check."""
    url = own_redis.url
    settings.SERVICES_MODE = True
    settings.REDIS_URL = url
    settings.LEADERBOARDS_REDIS_URL = url
    settings.LEADERBOARDS_REDIS_PREFIX = f"credo-test-lb-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": url, "socket_timeout": 15, "socket_connect_timeout": 5}], "capacity": 1500}}}
    broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    yield own_redis
    celery_app.conf.broker_url = broker


# The partner's signed client and the consenting member, as the scoring tests have them; live
# flushes every 50 ms, as the leaderboard tests have them.
from tests.leaderboards.conftest import quick_ticks  # noqa: E402, F401
from tests.scoring.conftest import acme, acme_key, alice_consents, partner_client  # noqa: E402, F401
