"""Shared fixtures: the cast (alice, bob, carol, mallory), API clients, and the real services.

Tests that need the real PostgreSQL or Redis use the ``redis_url`` / ``postgres`` fixtures:
outside CI they skip when the service is not configured; in CI (``CI=true``) they FAIL, so a
missing service can never turn into a green run.

Every log line of the run is also written to a file, rendered as production renders it (JSON,
``config.logs``), and searched when the run ends: a line with a password the suite uses or
with secret-shaped text fails the run (``SUITE_LOG_SECRETS``). The lines are those the settings
let through (INFO and up); tests/config/logs/test_secrets.py searches a slice of flows at DEBUG.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

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


# --- the log lines of the whole run -------------------------------------------------------------

#: Passwords the suite logs in with, and text shaped like a secret or an email address.
SUITE_LOG_SECRETS = [
    re.compile(re.escape(password)) for password in (
        "correct horse battery", "credo-demo-pass", "a long passphrase", "a new passphrase",
        "wrong wrong wrong", "nope nope nope", "purple elephants dance", "Summer2026!")
] + [
    re.compile(r"sha256=[0-9a-f]{8,}"),
    re.compile(r"whsec_[A-Za-z0-9+/=_-]{4,}"),
    re.compile(r"\b(Token|Bearer)\s+(?!\[redacted\])[0-9A-Za-z._~+/=-]{8,}"),
    re.compile(r"sessionid=(?!\[redacted\])\w+"),
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
]
_suite_log: dict[str, logging.Handler | Path] = {}


def _suite_log_attach() -> None:
    handler = _suite_log.get("handler")
    if isinstance(handler, logging.Handler) and handler not in logging.getLogger().handlers:
        # Something reconfigured logging (a Celery worker started in-process, say): back in.
        logging.getLogger().addHandler(handler)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Django's settings are loaded by now: the formatter is production's.
    from config.logs.setup import formatter

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = Path(os.environ.get("SUITE_LOG_DIR", tempfile.gettempdir())) / f"credo-suite-{os.getpid()}-{worker}.log"
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(formatter("json"))
    _suite_log.update(handler=handler, path=path)
    _suite_log_attach()


def pytest_runtest_setup(item: pytest.Item) -> None:
    _suite_log_attach()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    handler, path = _suite_log.get("handler"), _suite_log.get("path")
    if not isinstance(handler, logging.Handler) or not isinstance(path, Path):
        return
    logging.getLogger().removeHandler(handler)
    handler.close()
    found = [(number, line[:300]) for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if any(pattern.search(line) for pattern in SUITE_LOG_SECRETS)]
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"Secrets or member data in {len(found)} log line(s) of this run ({path}):", red=True)
            for number, line in found[:20]:
                reporter.write_line(f"  {number}: {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        path.unlink(missing_ok=True)
