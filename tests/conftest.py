"""Shared fixtures: the cast (alice, bob, carol, mallory), API clients, and the real services.

Tests that need the real PostgreSQL or Redis use the ``redis_url`` / ``postgres`` fixtures:
outside CI they skip when the service is not configured; in CI (``CI=true``) they FAIL, so a
missing service can never turn into a green run.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(what: str) -> None:
    message = f"{what} is required for this test (set it; CI provides it)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    url = getattr(settings, "TEST_REDIS_URL", "")
    if not url:
        _missing("REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {url} is not answering: {exc}", pytrace=False)
        pytest.skip(f"Redis at {url} is not answering")
    return url


@pytest.fixture
def postgres(db) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        _missing("DATABASE_URL pointing at PostgreSQL")


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="bob")


@pytest.fixture
def carol(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="carol")


@pytest.fixture
def mallory(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="mallory")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as():  # type: ignore[no-untyped-def]
    """``api_as(user)``: an API client authenticated with a real knox token of that user."""
    from knox.models import AuthToken

    def make(user) -> APIClient:  # type: ignore[no-untyped-def]
        client = APIClient()
        _, token = AuthToken.objects.create(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Throttle counters and axes live in the cache / DB; keep tests independent.
    from django.core.cache import cache

    cache.clear()
