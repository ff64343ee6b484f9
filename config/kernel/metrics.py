"""Credo's Prometheus metrics, defined once (prometheus-client), for every app to count with one
line per site. docs/operations.md says what each means, what healthy looks like, what to do.

Counters, histograms and the sockets gauge are counted where things happen, in whichever process
that is: the API's (uvicorn runs several workers), a Celery worker's, the simulator's. With
``PROMETHEUS_MULTIPROC_DIR`` set in every process's environment (services mode), prometheus-client
keeps each process's values in files there and ``/metrics`` adds them up (its multiprocess
mode); the directory must be emptied before the processes start. Without it (``make run``: one
process) the values live in the process. Figures that are state rather than happenings (the
scoring lag, queue lengths, the index version, the last reconcile's gap) are read when
Prometheus scrapes (``config.operations.metrics``), so no process has to keep them up to date.

An increment costs a few microseconds (a lock and a write to a memory-mapped file in
multiprocess mode): fine on hot paths, which count per request, batch or frame, never per query.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

# --- ingestion (scoring.ingestion) ----------------------------------------------------------------
EVENTS_ACCEPTED = Counter("credo_events_accepted", "Partner events stored (new ones; a replayed request counts once).")
EVENTS_DUPLICATE = Counter("credo_events_duplicate", "Partner events sent again (already stored: not stored twice).")
EVENTS_REJECTED = Counter("credo_events_rejected", "Signed partner requests refused, by error code.", ["code"])

# --- scoring (scoring.ledger) ---------------------------------------------------------------------
EVENTS_SCORED = Counter("credo_events_scored", "Events the ledger applied to members' scores.")
SCORING_BATCH_EVENTS = Histogram("credo_scoring_batch_events", "Events applied per scoring batch.",
                                 buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000))
SCORING_BATCH_SECONDS = Histogram("credo_scoring_batch_seconds", "Seconds one scoring batch took.",
                                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

# --- leaderboards (leaderboards.boards, leaderboards.sockets) ------------------------------------
BOARD_INDEX_REBUILDS = Counter("credo_board_index_rebuilds",
                               "Rebuilds of the Redis leaderboard index from the database.")
LIVE_SOCKETS_OPEN = Gauge("credo_live_sockets_open", "Live leaderboard sockets of signed-in members open now.",
                          multiprocess_mode="livesum")
LIVE_FRAMES_SENT = Counter("credo_live_frames_sent",
                           "WebSocket frames sent to live sockets (snapshots, deltas, batches, errors).")
LIVE_DELTAS_SENT = Counter("credo_live_deltas_sent", "Rank changes sent to live sockets (one per rank.changed, batched "
                                                     "or not).")
LIVE_RESYNCS = Counter("credo_live_resyncs", "Resyncs clients asked for (a gap in a board's seq, or a lost snapshot).")

# --- partner webhooks (scoring.webhooks) ----------------------------------------------------------
WEBHOOK_ATTEMPTS = Counter("credo_webhook_attempts", "Webhook delivery attempts, by outcome (delivered, failed).",
                           ["outcome"])
WEBHOOK_MESSAGES_FAILED = Counter("credo_webhook_messages_failed",
                                  "Webhook messages given up after their last attempt (the endpoint is disabled).")

F = TypeVar("F", bound=Callable[..., int])


def scoring_batch(fn: F) -> F:
    """Count a scoring batch: ``fn`` returns how many events it applied; its duration and that
    number are observed (a batch that applied nothing is not one)."""

    @functools.wraps(fn)
    def counted(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        applied = fn(*args, **kwargs)
        if applied:
            SCORING_BATCH_SECONDS.observe(time.perf_counter() - started)
            SCORING_BATCH_EVENTS.observe(applied)
            EVENTS_SCORED.inc(applied)
        return applied

    return counted  # type: ignore[return-value]
