"""A request's id follows it into the Celery tasks it enqueues (config.logs.task_context).

These run the tasks in-process, as embedded mode does (CELERY_TASK_ALWAYS_EAGER); a real worker
carrying the id through the task's headers is checked by the services-mode smoke test
(tests/config/test_services_mode.py).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import structlog
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Event, Partner
from scoring.ingestion.partners import partner_create
from tests.scoring.conftest import SignedClient, card_event


def _task_lines(logs, task: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [line for line in logs.events("task_succeeded") if line["task"] == task]


@pytest.mark.django_db(transaction=True)  # the export task is sent when the request's transaction commits
def test_a_task_enqueued_after_commit_logs_the_request_id_and_the_request_keeps_it(logs, alice, api_as):
    response = api_as(alice).post("/api/v1/me/export/", HTTP_X_REQUEST_ID="export-req-1")
    assert response.status_code == 202
    [task] = _task_lines(logs, "accounts.privacy.tasks.data_export_build")
    assert task["request_id"] == "export-req-1" and task["level"] == "info"
    assert uuid.UUID(task["task_id"]) and isinstance(task["duration_ms"], int)
    # The request's own line comes after the task ran in its thread: same id, no task's fields.
    [request] = logs.events("request_finished")
    assert request["request_id"] == "export-req-1" and "task_id" not in request and "task" not in request
    assert [line["event"] for line in logs.lines() if line.get("request_id") == "export-req-1"][-1] == (
        "request_finished")


@pytest.mark.django_db
def test_a_task_nobody_sent_gets_an_id_of_its_own_each_run(logs):
    sweeper = app.tasks["accounts.privacy.tasks.data_exports_expire"]
    sweeper.apply_async()
    sweeper.apply_async()
    first, second = _task_lines(logs, "accounts.privacy.tasks.data_exports_expire")
    assert uuid.UUID(first["request_id"]) and uuid.UUID(second["request_id"])
    assert first["request_id"] != second["request_id"]
    assert "parent_task_id" not in first
    assert structlog.contextvars.get_contextvars() == {}  # nothing left bound after the tasks


@pytest.mark.django_db
def test_a_sweeper_hands_its_id_to_the_tasks_it_enqueues(logs, alice):
    key = partner_create(name="Acme Bank", slug="acme")
    consent_grant(member=alice, partner=Partner.objects.get(slug="acme"))
    # Stored pending: this test's transaction never commits, so its scoring task is never sent.
    assert SignedClient(APIClient(), key).post("/api/v1/events/", card_event()).status_code == 201
    Event.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    app.tasks["scoring.ledger.tasks.sweep_pending_events"].apply_async()
    [sweep] = _task_lines(logs, "scoring.ledger.tasks.sweep_pending_events")
    [score] = _task_lines(logs, "scoring.ledger.tasks.score_members")
    assert score["request_id"] == sweep["request_id"]
    assert score["parent_task_id"] == sweep["task_id"] != score["task_id"]
    assert Event.objects.get().status == Event.Status.SCORED

