"""``/health/live`` and ``/health/ready`` (config.operations.health): what each answers in both
modes, a service stopped or hung and back, pending migrations, and what a probe never meets
(throttles, host checks, TLS redirects, member data)."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY

from config.operations.middleware import VIEWS

EMBEDDED_CHECKS = {"database": "ok", "migrations": "ok", "channel_layer": "ok", "broker": "ok"}
SERVICES_CHECKS = {**EMBEDDED_CHECKS, "redis": "ok", "board_index": "ok"}


def probe(path: str = "/health/ready", **extra: Any) -> tuple[int, dict[str, Any]]:
    response = Client().get(path, **extra)
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_the_operations_paths_are_the_ones_the_middleware_answers(settings: Any) -> None:
    assert sorted(VIEWS) == sorted(settings.OPERATIONS_PATHS) == ["/health/live", "/health/ready", "/metrics"]


def test_live_answers_without_asking_any_service(db: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert probe("/health/live") == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
def test_ready_in_embedded_mode_checks_what_exists_there() -> None:
    assert probe() == (200, {"status": "ok", "mode": "embedded", "checks": EMBEDDED_CHECKS})


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_while_a_migration_is_not_applied() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, app, name, applied FROM django_migrations WHERE app = 'scoring' "
                       "ORDER BY name DESC LIMIT 1")
        row = cursor.fetchone()
        cursor.execute("DELETE FROM django_migrations WHERE id = %s", [row[0]])
    try:
        assert probe() == (503, {"code": "not_ready", "detail": "Not ready: see checks.", "status": "unavailable",
                                 "mode": "embedded", "checks": {**EMBEDDED_CHECKS, "migrations": "unavailable"}})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, %s, %s, %s)", row)
    assert probe()[0] == 200


@pytest.mark.django_db(transaction=True)
def test_probes_are_never_throttled(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "anon": "3/minute"}}
    statuses = [probe(path)[0] for path in ["/health/live", "/health/ready"] * 40]
    assert statuses == [200] * 80
    # An anonymous API read from the same address is throttled at its fourth call: the rate is in force.
    client = Client()
    assert [client.get("/api/v1/members/nobody/").status_code for _ in range(4)] == [404, 404, 404, 429]


@pytest.mark.django_db(transaction=True)
def test_a_load_balancer_probing_by_address_over_plain_http_gets_an_answer(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["credo.example"]
    settings.SECURE_SSL_REDIRECT = True
    assert probe(HTTP_HOST="10.0.3.7:8000") == (200, {"status": "ok", "mode": "embedded",
                                                      "checks": EMBEDDED_CHECKS})
    assert probe("/health/live", HTTP_HOST="10.0.3.7:8000") == (200, {"status": "ok"})
    # Any other page keeps both guards.
    assert Client().get("/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert Client().get("/", HTTP_HOST="credo.example").status_code == 301


@pytest.mark.django_db(transaction=True)
def test_no_member_data_in_either_answer(alice: Any, bob: Any) -> None:
    bodies = Client().get("/health/live").content + Client().get("/health/ready").content
    for user in (alice, bob):
        for value in (user.username, user.email, f'"{user.pk}"', f": {user.pk}"):
            assert value.encode() not in bodies


# --- services mode: Redis stopped, hung, and back -------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_ready_follows_redis_down_and_back(services_on: Any, alice: Any) -> None:
    rebuilds = REGISTRY.get_sample_value("credo_board_index_rebuilds_total")
    # The index is empty at first: the probe starts its rebuild (in-process here) and says so.
    assert probe() == (503, {"code": "not_ready", "detail": "Not ready: see checks.", "status": "unavailable",
                             "mode": "services", "checks": {**SERVICES_CHECKS, "board_index": "unavailable"}})
    assert probe() == (200, {"status": "ok", "mode": "services", "checks": SERVICES_CHECKS})
    assert REGISTRY.get_sample_value("credo_board_index_rebuilds_total") == rebuilds + 1  # type: ignore[operator]

    services_on.stop()
    status, body = probe()
    assert (status, body["checks"]) == (503, {**SERVICES_CHECKS, "redis": "unavailable", "channel_layer": "unavailable",
                                              "broker": "unavailable", "board_index": "unavailable"})

    # Back, empty (no persistence, as after a crash): the index is rebuilt, then ready again.
    services_on.start()
    status, body = probe()
    assert (status, body["checks"]) == (503, {**SERVICES_CHECKS, "board_index": "unavailable"})
    assert probe() == (200, {"status": "ok", "mode": "services", "checks": SERVICES_CHECKS})
    assert REGISTRY.get_sample_value("credo_board_index_rebuilds_total") == rebuilds + 2  # type: ignore[operator]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_ready_gives_up_on_a_redis_that_hangs(services_on: Any, settings: Any) -> None:
    """A Redis that accepts connections and never answers: without each check's time limit the
    probe would wait for ever (the client below would give up first and fail the test)."""
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1
    assert probe()[0] == 503  # the index is rebuilt by this first probe
    assert probe()[0] == 200
    assert services_on.proc is not None
    os.kill(services_on.proc.pid, signal.SIGSTOP)
    try:
        status, body = probe()
    finally:
        os.kill(services_on.proc.pid, signal.SIGCONT)
    assert (status, body["checks"]) == (503, {**SERVICES_CHECKS, "redis": "unavailable", "channel_layer": "unavailable",
                                              "broker": "unavailable", "board_index": "unavailable"})
    assert probe() == (200, {"status": "ok", "mode": "services", "checks": SERVICES_CHECKS})
