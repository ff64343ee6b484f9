"""``GET /metrics``: Prometheus' text format, for the addresses and the token the settings allow.

Happenings (events accepted, batches scored, frames sent…) are counted where they happen
(``config.kernel.metrics``); in services mode every process writes its counts to
``PROMETHEUS_MULTIPROC_DIR`` and this view adds them up (prometheus-client's multiprocess mode).
State is read here, at scrape time, by ``StateCollector`` — the scoring lag, the contagion
residuals, the leaderboard index, the Celery queues, the webhook backlog, the last reconciles —
so every process answers the same and nothing has to be kept up to date between scrapes. Each
source is read on its own: one that fails (Redis away) leaves its figures out and sets
``credo_metrics_source_up{source}`` to 0, and the scrape still answers.

HTTP figures (requests, latencies and statuses by view) are django-prometheus' middleware's.

Access (``settings.METRICS_ALLOWED_IPS``, ``METRICS_TOKEN``): a client whose address
(``config.kernel.client_ip``) is in one of the allowed networks — loopback only by default — or
that sends ``Authorization: Bearer <METRICS_TOKEN>``. Anyone else: 403. Never throttled.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db.models import Count, Max, Q
from django.db.models.functions import Abs
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from config.celery import app as celery_app
from config.kernel.client_ip import client_ip
from config.kernel.openapi import errors
from leaderboards.boards import index
from leaderboards.boards.tasks import RECONCILE_FIGURES as BOARDS_RECONCILE
from scoring.contagion.backlog import KEY as CONTAGION_BACKLOG_KEY
from scoring.contagion.models import ContagionNode
from scoring.contagion.services import PARAMS as CONTAGION
from scoring.contagion.tasks import RECONCILE_FIGURES as CONTAGION_RECONCILE
from scoring.ingestion.models import Event
from scoring.webhooks.models import WebhookMessage

logger = logging.getLogger(__name__)


# --- access ----------------------------------------------------------------------------------------


@cache
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)


def allowed(request: Any) -> bool:
    """The client may read the metrics (module docstring)."""
    token = settings.METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address((client_ip(request) or "").split("%")[0])
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


class MetricsAllowed(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return allowed(request)


class _IgnoreAccept(BaseContentNegotiation):
    """Prometheus asks for its own media types: the answer is the text format whatever it asks
    (and a refusal JSON, like every error)."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None


# --- state read at scrape time -------------------------------------------------------------------------


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _scoring() -> Iterator[Metric]:
    oldest = (Event.objects.filter(status=Event.Status.PENDING).order_by("received_at")
              .values_list("received_at", flat=True).first())
    lag = 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
    yield _gauge("credo_scoring_lag_seconds", "Age of the oldest event waiting to be scored (0: none waits).", lag)


def _contagion() -> Iterator[Metric]:
    eps = CONTAGION.eps
    row = ContagionNode.objects.aggregate(residual=Max(Abs("r")), over=Count("pk", filter=Q(r__gt=eps) | Q(r__lt=-eps)))
    yield _gauge("credo_contagion_residual_max", "Largest |residual| of friend contagion, in deviation points "
                 "(the engine keeps it under ε between ticks).", float(row["residual"] or 0.0))
    yield _gauge("credo_contagion_overflow_backlog", "Members whose residual is above ε, waiting for the "
                 "contagion tick (a push that ran out of budget).", float(row["over"]))


def _reconciles() -> Iterator[Metric]:
    gap = GaugeMetricFamily("credo_reconcile_displayed_gap_points", "Largest gap in displayed points the last nightly "
                            "reconcile found (contagion: members' scores; boards: board entries).",
                            labels=["reconcile"])
    at = GaugeMetricFamily("credo_reconcile_timestamp_seconds", "When the last nightly reconcile ran (unix seconds).",
                           labels=["reconcile"])
    for name, key, field in (("contagion", CONTAGION_RECONCILE, "largest_score_gap"),
                             ("boards", BOARDS_RECONCILE, "largest_gap")):
        figures = django_cache.get(key)
        if figures:
            gap.add_metric([name], float(figures.get(field) or 0))
            at.add_metric([name], datetime.fromisoformat(figures["at"]).timestamp())
    yield gap
    yield at


def _webhooks() -> Iterator[Metric]:
    pending = WebhookMessage.objects.filter(status=WebhookMessage.Status.PENDING).count()
    yield _gauge("credo_webhook_pending_messages", "Webhook messages waiting to be delivered (or retried).",
                 float(pending))


def _redis_state() -> Iterator[Metric]:
    """Services mode: the leaderboard index, Celery's queues, contagion's members waiting."""
    if index.enabled():
        version = index.version()
        yield _gauge("credo_board_index_version", "Version of the leaderboard index (rises on every write).",
                     float(version))
        yield _gauge("credo_board_index_ready", "1 while the leaderboard index is complete; 0 while it is rebuilt "
                     "(boards are read from the database meanwhile).", 1.0 if index.is_ready() else 0.0)
    broker = _redis(celery_app.conf.broker_url)
    queues = GaugeMetricFamily("credo_celery_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"])
    for queue in _queue_names():
        queues.add_metric([queue], float(broker.llen(queue)))
    yield queues
    yield _gauge("credo_contagion_waiting_members", "Members whose bases moved and wait to be folded into "
                 "contagion (services mode's backlog set).", float(broker.scard(CONTAGION_BACKLOG_KEY)))


def _queue_names() -> list[str]:
    names = {celery_app.conf.task_default_queue}
    names.update(queue.name for queue in celery_app.conf.task_queues or ())
    return sorted(names)


class StateCollector:
    """The figures read when Prometheus scrapes (module docstring)."""

    def describe(self) -> list[Metric]:
        return []  # read at each scrape: nothing to describe in advance

    def collect(self) -> Iterator[Metric]:
        sources = {"scoring": _scoring, "contagion": _contagion, "reconciles": _reconciles, "webhooks": _webhooks}
        if settings.SERVICES_MODE:
            sources["redis"] = _redis_state
        up = GaugeMetricFamily("credo_metrics_source_up", "1 if this scrape could read the source's figures.",
                               labels=["source"])
        for name, read in sources.items():
            try:
                families = list(read())
            except Exception:  # a source away (database, Redis): its figures are left out
                logger.warning("metrics: could not read %s", name, exc_info=True)
                up.add_metric([name], 0.0)
                continue
            up.add_metric([name], 1.0)
            yield from families
        yield up


_STATE = CollectorRegistry(auto_describe=False)
_STATE.register(StateCollector())  # type: ignore[arg-type]


def _forget_dead_processes(directory: str) -> None:
    """A process that exited (a restarted uvicorn worker) must not count in the sockets open:
    prometheus-client drops a dead process's "live" gauges when told it died."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, another user's


def exposition() -> bytes:
    """Every metric, in Prometheus' text format."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        _forget_dead_processes(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_STATE)


class MetricsView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [MetricsAllowed]
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _IgnoreAccept

    def check_permissions(self, request: Request) -> None:
        # A method the view does not serve is 405 for everyone, as on every other path.
        if hasattr(self, (request.method or "").lower()):
            super().check_permissions(request)

    @extend_schema(
        operation_id="metrics", tags=["operations"],
        summary="Prometheus metrics (text format), for the addresses and token the settings allow",
        responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus' text format."),
                   **errors({403: ["permission_denied"]}, _403="Not an allowed address, and no valid bearer token.")})
    def get(self, request: Request) -> HttpResponse:
        # The text format every Prometheus reads (our names need none of 1.0.0's escaping).
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
