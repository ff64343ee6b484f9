"""``/metrics`` (config.operations.metrics, config.kernel.metrics): who may read it, that it is
never throttled nor carries member data, and that the counters move by exactly what really
happened — signed events ingested and scored, live sockets opened, sent frames and deltas,
resyncs — and add up across processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.leaderboards.conftest import befriend, connect, member, scored, subscribe
from tests.scoring.conftest import card_event

ROOT = Path(__file__).resolve().parents[3]


def scrape(**extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as ``{(name, labels): value}``."""
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: dict, after: dict, names: list[tuple[str, dict[str, str]]]) -> list[float]:
    return [value(after, name, **labels) - value(before, name, **labels) for name, labels in names]


# --- access ------------------------------------------------------------------------------------------


def test_a_stranger_is_refused_and_loopback_is_served(db: None) -> None:
    refused = Client().get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert json.loads(refused.content) == {"code": "permission_denied",
                                           "detail": "You do not have permission to perform this action."}
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200
    # A method /metrics does not serve: 405 for anyone, as everywhere.
    assert Client().post("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 405


def test_allowed_networks_and_the_bearer_token_come_from_the_settings(db: None, settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("10.20.3.4", {}),  # in the network
        ("127.0.0.1", {}),  # loopback no longer listed
        ("203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer scrape-token-for-tests"}),
        ("203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer wrong"}),
        ("203.0.113.9", {"HTTP_AUTHORIZATION": "scrape-token-for-tests"}),
    ]
    codes = [Client().get("/metrics", REMOTE_ADDR=address, **headers).status_code for address, headers in attempts]
    assert codes == [200, 403, 200, 403, 403]


def test_the_client_address_is_the_houses_behind_a_proxy(db: None, settings: Any) -> None:
    settings.TRUSTED_PROXIES = 1
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    # Our proxy appended the address it saw; what the client wrote to the left of it is not read.
    assert Client().get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.20.0.1, 203.0.113.9"
                        ).status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.20.0.1"
                        ).status_code == 200


def test_metrics_are_never_throttled(db: None, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "anon": "3/minute"}}
    assert [Client().get("/metrics").status_code for _ in range(40)] == [200] * 40


# --- the counters move by what happened ----------------------------------------------------------------

INGESTION = [("credo_events_accepted_total", {}), ("credo_events_duplicate_total", {}),
             ("credo_events_rejected_total", {"code": "bad_signature"}),
             ("credo_events_rejected_total", {"code": "no_consent"}),
             ("credo_events_rejected_total", {"code": "invalid_amount"}),
             ("credo_events_scored_total", {}), ("credo_scoring_batch_events_count", {}),
             ("credo_scoring_batch_events_sum", {})]


def test_ingestion_and_scoring_counters_move_by_what_happened(partner_client: Any, alice_consents: Any, bob: Any,
                                                              django_capture_on_commit_callbacks: Any) -> None:
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert partner_client.post("/api/v1/events/", card_event(), idempotency_key="k1").status_code == 201
    replay = partner_client.post("/api/v1/events/", card_event(), idempotency_key="k1")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (201, "true")  # counted once
    assert partner_client.post("/api/v1/events/", card_event(), idempotency_key="k2").status_code == 200  # duplicate
    batch = {"events": [card_event(external_id="card-2"), card_event(external_id="card-3"), card_event()]}
    with django_capture_on_commit_callbacks(execute=True):
        assert partner_client.post("/api/v1/events/batch/", batch).status_code == 201
    assert partner_client.post("/api/v1/events/", card_event(), signature="sha256=00").status_code == 401
    assert partner_client.post("/api/v1/events/", card_event(member="bob")).status_code == 403
    refused = partner_client.post("/api/v1/events/", card_event(amount="-1"))
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_amount")
    after = scrape()
    # Accepted: card-1, then card-2 and card-3; duplicates: card-1 twice; scored: 1, then 2 in a batch.
    assert moved(before, after, INGESTION) == [3, 2, 1, 1, 1, 3, 2, 3]


@pytest.mark.django_db(transaction=True)
async def test_live_socket_counters_move_by_what_was_sent(quick_ticks: Any) -> None:
    from channels.db import database_sync_to_async  # the ORM from this async test

    def world() -> tuple[Any, Any]:
        alice, bob = member("alice", 600), member("bob", 500)
        befriend(alice, bob)
        return alice, bob

    alice, bob = await database_sync_to_async(world)()
    names: list[tuple[str, dict[str, str]]] = [("credo_live_sockets_open", {}), ("credo_live_frames_sent_total", {}),
             ("credo_live_deltas_sent_total", {}), ("credo_live_resyncs_total", {})]
    start = await database_sync_to_async(scrape)()
    socket = await connect(alice)
    await subscribe(socket)
    opened = await database_sync_to_async(scrape)()
    assert moved(start, opened, names) == [1, 1, 0, 0]

    await database_sync_to_async(scored)(bob, 700)  # bob passes alice: two ranks change
    received = [await socket.receive_json_from(timeout=3) for _ in range(3)]
    assert sorted(m["type"] for m in received) == ["notification", "rank.changed", "rank.changed"]
    await socket.send_json_to({"type": "resync", "board": "friends"})
    assert (await socket.receive_json_from(timeout=3))["type"] == "snapshot"
    sent = await database_sync_to_async(scrape)()
    assert moved(start, sent, names) == [1, 5, 2, 1]

    await socket.disconnect()
    closed = await database_sync_to_async(scrape)()
    assert moved(start, closed, names) == [0, 5, 2, 1]


# --- no member data -----------------------------------------------------------------------------------


def test_no_member_data_in_the_metrics(partner_client: Any, alice_consents: Any, alice: Any,
                                       django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert partner_client.post("/api/v1/events/", card_event()).status_code == 201
    body = Client().get("/metrics").content.decode()
    for text in (alice.username, alice.email, "card-1", "acme", "Acme"):
        assert text not in body
    assert f'"{alice.pk}"' not in body


# --- many processes ------------------------------------------------------------------------------------

COUNT = """
import os, sys
from config.kernel import metrics
metrics.EVENTS_ACCEPTED.inc(int(sys.argv[1]))
metrics.LIVE_SOCKETS_OPEN.inc(int(sys.argv[1]))
"""

SCRAPE = """
import django
django.setup()
from config.operations.metrics import exposition
print(exposition().decode())
"""


def test_counts_of_many_processes_add_up_and_a_dead_ones_sockets_do_not_count(tmp_path: Path, db: None) -> None:
    """Two processes count (as two uvicorn workers or a worker and the API would); a third one's
    scrape adds them up. Both have exited by then: the sockets they held no longer count, the
    events they accepted still do."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    for n in ("2", "5"):
        subprocess.run([sys.executable, "-c", COUNT, n], cwd=ROOT, env=env, check=True)
    out = subprocess.run([sys.executable, "-c", SCRAPE], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert value(samples, "credo_events_accepted_total") == 7
    assert value(samples, "credo_live_sockets_open") == 0
