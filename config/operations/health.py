"""``GET /health/live`` and ``GET /health/ready``: what a load balancer or an orchestrator asks.

*Live*: the process answers (no dependency is touched: a restart would not fix a database
that is away). *Ready*: this process can serve members now — the database answers and its
migrations are applied, and in services mode Redis, the channel layer, the Celery broker and the
leaderboard index answer too. 200 when every check passes, 503 otherwise; the body is JSON naming
each check ``ok`` or what is wrong with it, never anything about members.

The checks are django-health-check's (maintained, async-aware: the checks run concurrently, each
under its own time limit) where it has one (database, Redis), ours where the question is
Credo's (migrations, channel layer round trip, broker connection, index sentinel). Each gives up
after ``HEALTH_CHECK_TIMEOUT_SECONDS`` (its client's own timeouts are set to it, and the library
cuts off a check one second after it), so a probe answers 503 within about three seconds of a
service stopping or hanging — and 200 again on the first probe after it is back.

The broker check asks whether tasks can be sent, not whether a worker is running: a web node is
ready to serve while workers restart (``celery_queue_length`` in /metrics shows work piling up).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import redis.asyncio
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import extend_schema, inline_serializer
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app
from config.kernel.openapi import errors
from leaderboards.boards import index
from leaderboards.boards.services import index_rebuild_soon

OK = "ok"
#: The code of a 503 answer.
NOT_READY = "not_ready"


def _timeout() -> timedelta:
    return timedelta(seconds=float(settings.HEALTH_CHECK_TIMEOUT_SECONDS))


#: Database aliases whose migrations this process saw complete.
_MIGRATIONS_COMPLETE: set[str] = set()


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration the code knows of is applied (a node that started before ``migrate``
    finished, or a deploy whose migrate failed, is not ready). Once seen complete, a process
    stops asking: migrations are not unapplied under a running release."""

    alias: str = DEFAULT_DB_ALIAS

    def run(self) -> None:
        if self.alias in _MIGRATIONS_COMPLETE:
            return
        connection = connections[self.alias]
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:  # the database's own errors: the database check names them
            raise ServiceUnavailable("cannot read the applied migrations") from exc
        finally:
            connection.close()  # this runs in a worker thread: give its connection back
        if pending:
            raise ServiceUnavailable(f"{len(pending)} migration(s) not applied")
        _MIGRATIONS_COMPLETE.add(self.alias)


@dataclasses.dataclass
class ChannelLayer(HealthCheck):
    """A message sent through the channel layer comes back (what live boards travel on)."""

    async def run(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            raise ServiceUnavailable("no channel layer configured")
        try:
            channel = await layer.new_channel("health.")
            await layer.send(channel, {"type": "health.ping"})
            message = await layer.receive(channel)
        except Exception as exc:  # each layer's backend raises its own (redis-py's, OSError…)
            raise ServiceUnavailable("the channel layer does not answer") from exc
        if message.get("type") != "health.ping":
            raise ServiceUnavailable("the channel layer returned another message")


@dataclasses.dataclass
class Broker(HealthCheck):
    """Celery's broker accepts a connection (tasks can be sent). Embedded mode's in-memory
    broker always does."""

    def run(self) -> None:
        seconds = self.timeout.total_seconds()
        try:
            with celery_app.connection_for_write(connect_timeout=seconds, transport_options={
                    "socket_timeout": seconds, "socket_connect_timeout": seconds}) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=seconds)
        except Exception as exc:  # kombu's OperationalError, or the transport's own
            raise ServiceUnavailable("the Celery broker does not answer") from exc


@dataclasses.dataclass
class BoardIndex(HealthCheck):
    """The leaderboard index in Redis is complete (its ``ready`` sentinel is there). Missing
    (Redis restarted empty, was flushed or evicted it), a rebuild is started — as a board read
    would — and the node stays unready until it has finished."""

    def run(self) -> None:
        try:
            if index.is_ready():
                return
        except Exception as exc:  # redis-py's errors: the Redis check names them
            raise ServiceUnavailable("the leaderboard index does not answer") from exc
        index_rebuild_soon()
        raise ServiceUnavailable("the leaderboard index is being rebuilt")


def checks() -> dict[str, HealthCheck]:
    """The readiness checks of this runtime mode, by the name the answer gives them."""
    timeout = _timeout()
    found: dict[str, HealthCheck] = {"database": Database(), "migrations": Migrations(),
                                     "channel_layer": ChannelLayer(), "broker": Broker()}
    if settings.SERVICES_MODE:
        seconds = timeout.total_seconds()
        url = settings.REDIS_URL
        found["redis"] = Redis(client_factory=lambda: redis.asyncio.Redis.from_url(
            url, socket_timeout=seconds, socket_connect_timeout=seconds))
        if index.enabled():
            found["board_index"] = BoardIndex()
    for check in found.values():
        check.timeout = timeout
    return found


async def _results(named: dict[str, HealthCheck]) -> list[HealthCheckResult]:
    return list(await asyncio.gather(*(check.get_result() for check in named.values())))


def readiness() -> tuple[bool, dict[str, str]]:
    """``(ready, {check: "ok" or what is wrong})``; the failures' details go to the log
    (django-health-check's ``health_check`` logger), not to the answer."""
    named = checks()
    results = async_to_sync(_results)(named)
    report = {name: OK if result.error is None else result.error.message_type.lower()
              for name, result in zip(named, results, strict=True)}
    return all(state == OK for state in report.values()), report


_STATUS = inline_serializer("HealthStatus", fields={
    "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
})
_READY = inline_serializer("Readiness", fields={
    "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
    "mode": serializers.ChoiceField(choices=["embedded", "services"]),
    "checks": serializers.DictField(
        child=serializers.CharField(),
        help_text="Each check (database, migrations, channel_layer, broker; in services mode redis and "
                  "board_index too): `ok`, or `unavailable` / `unexpected result`."),
})


class _Probe(APIView):
    """No authentication, permission or throttle: a load balancer calls it every few seconds."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []


class LiveView(_Probe):
    @extend_schema(operation_id="health_live", tags=["operations"], responses={200: _STATUS},
                   summary="The process answers (no dependency is checked).")
    def get(self, request: Request) -> Response:
        return Response({"status": OK})


class ReadyView(_Probe):
    @extend_schema(
        operation_id="health_ready", tags=["operations"],
        summary="Every service this process needs answers: 200, or 503 with the checks that failed.",
        responses={200: _READY, **errors({503: [NOT_READY]}, _503=(
            "Not ready: the error also carries `status`, `mode` and `checks` as on 200, naming what failed."))})
    def get(self, request: Request) -> Response:
        ready, report = readiness()
        body: dict[str, Any] = {"status": OK if ready else "unavailable",
                                "mode": "services" if settings.SERVICES_MODE else "embedded", "checks": report}
        if not ready:  # an error like every other: {code, detail}, and the checks
            body = {"code": NOT_READY, "detail": "Not ready: see checks.", **body}
        response = Response(body, status=200 if ready else 503, headers={"Cache-Control": "no-store"})
        # Each failing check was logged once, with its cause (the ``health_check`` logger): Django
        # need not log every unready probe again as a server error.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
