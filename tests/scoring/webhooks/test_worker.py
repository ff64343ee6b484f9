"""Webhooks delivered by a real Celery worker on real Redis to a real receiver (services mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create
from scoring.webhooks.models import WebhookMessage, WebhookType
from scoring.webhooks.outbox import new_msg_id
from scoring.webhooks.receiver import Receiver
from scoring.webhooks.services import webhook_endpoint_set

ROOT = Path(__file__).resolve().parents[3]


def _db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_what_a_crash_left_in_the_outbox_in_order(postgres, redis_url, settings):  # type: ignore[no-untyped-def]
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()
    settings.WEBHOOKS_ALLOW_LOCAL = True
    receiver = Receiver().start()
    try:
        partner_create(name="Acme Bank", slug="acme")
        acme = Partner.objects.get(slug="acme")
        receiver.secrets = [webhook_endpoint_set(partner=acme, url=receiver.url, types=WebhookType.values,
                                                 actor_name="test").secret or ""]
        # Committed outbox rows whose delivery was never asked for: what a worker killed after the
        # commit leaves. The beat sweeper's task finds them.
        now = timezone.now()
        ids = [new_msg_id() for _ in range(3)]
        WebhookMessage.objects.bulk_create([
            WebhookMessage(partner=acme, msg_id=msg_id, type=WebhookType.EVENT_SCORED, data={"n": n}, created_at=now,
                           next_attempt_at=now) for n, msg_id in enumerate(ids)])
        env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": _db_url(), "DEBUG": "false",
               "DJANGO_SETTINGS_MODULE": "config.settings.local", "WEBHOOKS_ALLOW_LOCAL": "true"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
             f"--hostname=webhooks-{uuid.uuid4().hex[:6]}@%h", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            Celery(broker=redis_url).send_task("scoring.webhooks.tasks.webhooks_sweep")
            assert receiver.wait_for(3, timeout=90), f"{len(receiver.requests)} of 3 arrived"
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        receiver.stop()
    assert [r.msg_id for r in receiver.requests] == ids
    assert all(r.verified for r in receiver.requests)
    assert list(WebhookMessage.objects.order_by("id").values_list("status", flat=True)) == ["delivered"] * 3
