"""The pipeline on the real services: PostgreSQL races, a real Celery worker on real Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.test import Client
from django.utils import timezone

from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Event, IdempotencyRecord, Partner
from scoring.ingestion.partners import partner_create, sign
from scoring.ledger import services
from scoring.ledger.models import ScoreChange
from tests.factories import UserFactory
from tests.scoring.conftest import card_event

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_identical_posts_create_exactly_one_event(postgres):
    issued = partner_create(name="Acme Bank", slug="acme")
    alice = UserFactory(username="alice")
    consent_grant(member=alice, partner=Partner.objects.get(slug="acme"))
    body = json.dumps(card_event()).encode()
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def post() -> None:
        ts = int(time.time())
        barrier.wait()
        response = Client().post(
            "/api/v1/events/", data=body, content_type="application/json",
            HTTP_X_CREDO_KEY=issued.key_id, HTTP_X_CREDO_TIMESTAMP=str(ts),
            HTTP_X_CREDO_SIGNATURE=sign(issued.secret, ts, body), HTTP_IDEMPOTENCY_KEY="same-key",
        )
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 20
    assert set(statuses) <= {201, 409}, statuses
    assert Event.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == "done"
    assert ScoreChange.objects.filter(cause="event").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_scorers_of_one_member_apply_each_event_once(postgres):
    partner = Partner.objects.create(name="Acme Bank", slug="acme")
    alice = UserFactory(username="alice")
    services.member_state_ensure(member=alice)
    for n in range(30):
        Event.objects.create(member=alice, partner=partner, external_id=f"e{n}", kind="purchase",
                             amount=Decimal("10.00"), currency="EUR",
                             occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n))
    barrier = threading.Barrier(4)
    applied: list[int] = []

    def score() -> None:
        barrier.wait()
        applied.append(services.member_score_pending(member_id=alice.pk))
        connection.close()

    threads = [threading.Thread(target=score) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(applied) == [0, 0, 0, 30]
    assert ScoreChange.objects.filter(cause="event").count() == 30


def _start_worker(redis_url: str, db_url: str, name: str) -> subprocess.Popen:
    env = {
        **os.environ, "REDIS_URL": redis_url, "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local", "CELERY_VISIBILITY_TIMEOUT": "3",
        "DEBUG": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
         f"--hostname={name}@%h", "--without-mingle", "--without-gossip", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_nothing_and_duplicates_apply_nothing(postgres, redis_url):
    """Kill -9 a worker mid-batch: its unacked task is not lost (acks_late), the sweeper
    re-enqueues what is still pending, duplicates arrive on top, and still every event is
    applied exactly once."""
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()
    partner = Partner.objects.create(name="Acme Bank", slug="acme")
    members = [UserFactory(username=f"m{i}") for i in range(150)]
    Event.objects.bulk_create([
        Event(member=m, partner=partner, external_id=f"{m.username}-{n}", kind="card_repayment",
              amount=Decimal("50.00"), currency="EUR", occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n),
              due_date=(datetime(2026, 1, 1) + timedelta(days=n)).date(),
              paid_date=(datetime(2026, 1, 1) + timedelta(days=n + (n % 3) * 10)).date())
        for m in members for n in range(6)
    ])
    total = Event.objects.count()
    producer = Celery(broker=redis_url)
    # One task per member: the live pipeline scores a task's members in one transaction, so the
    # kill must fall between (or inside) many small tasks to leave work half done.
    for m in members:
        producer.send_task("scoring.ledger.tasks.score_members", args=[[m.pk]])

    first = _start_worker(redis_url, _db_url(), f"victim-{uuid.uuid4().hex[:6]}")
    try:
        assert _wait(lambda: ScoreChange.objects.filter(cause="event").count() > 0, 60), "worker never started"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    done_at_kill = Event.objects.filter(status="scored").count()
    assert 0 < done_at_kill < total, "kill the worker mid-batch"

    # A minute later (we age the rows instead of waiting) the periodic sweeper re-enqueues what
    # is still pending; duplicates arrive on top: members already scored, sent again.
    Event.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    producer.send_task("scoring.ledger.tasks.sweep_pending_events")
    producer.send_task("scoring.ledger.tasks.score_members", args=[[m.pk for m in members[:50]]])
    second = _start_worker(redis_url, _db_url(), f"heir-{uuid.uuid4().hex[:6]}")
    try:
        assert _wait(lambda: Event.objects.filter(status="scored").count() == total, 90), (
            f"{Event.objects.filter(status='scored').count()} of {total} scored")
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert ScoreChange.objects.filter(cause="event").count() == total
    assert Event.objects.exclude(status="scored").count() == 0


@pytest.mark.django_db
def test_ingestion_survives_a_broker_outage_and_the_sweeper_recovers(
    partner_client, alice_consents, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError as BrokerDown

    from scoring.ledger import tasks

    def down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.score_members, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.post("/api/v1/events/", card_event())
    assert response.status_code == 201  # accepted: the row is the outbox
    assert Event.objects.get().status == "pending"
    monkeypatch.undo()
    Event.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    assert services.pending_sweep() == 1
    assert Event.objects.get().status == "scored"
    assert ScoreChange.objects.filter(cause="event").count() == 1


@pytest.mark.services
def test_services_mode_queues_members_in_redis_and_the_periodic_scorer_takes_batches(
    partner_client, alice_consents, settings, redis_url, django_capture_on_commit_callbacks
):
    """No Celery task per request: the API adds the member to one Redis set after commit, and
    ``score_dirty_members`` takes them (atomically) and scores them together."""
    import redis as redis_lib

    from scoring.ingestion import dirty
    from scoring.ledger.tasks import score_dirty_members

    settings.SERVICES_MODE = True
    settings.REDIS_URL = redis_url
    dirty._client = None
    raw = redis_lib.Redis.from_url(redis_url)
    raw.delete(dirty.KEY)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = partner_client.post("/api/v1/events/", card_event())
        assert response.status_code == 201
        assert Event.objects.get().status == "pending"
        assert raw.smembers(dirty.KEY) == {str(Event.objects.get().member_id).encode()}
        assert score_dirty_members() == 1
        assert raw.scard(dirty.KEY) == 0
        assert Event.objects.get().status == "scored"
        assert score_dirty_members() == 0  # nothing left: a second tick is a no-op
    finally:
        dirty._client = None


@pytest.mark.django_db
def test_a_redis_outage_while_queueing_loses_nothing(partner_client, alice_consents, settings,
                                                     django_capture_on_commit_callbacks):
    from scoring.ingestion import dirty

    settings.SERVICES_MODE = True
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused
    dirty._client = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = partner_client.post("/api/v1/events/", card_event())
        assert response.status_code == 201
        assert Event.objects.get().status == "pending"  # safe in the outbox
    finally:
        dirty._client = None
    settings.SERVICES_MODE = False
    Event.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    assert services.pending_sweep() == 1
    assert Event.objects.get().status == "scored"
