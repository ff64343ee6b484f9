"""One lock order for the whole house, on the real PostgreSQL with real threads.

Scoring (members, then their score states), friend contagion (points written to score states,
pushes on contagion rows), social writes (members) and partner ingestion (events, whose foreign
key takes a share lock on the member at COMMIT) run at the same time on the same few members.
Before the kernel's one lock order, contagion's points write locked score states and then the
members' rows while scoring locked them the other way round: PostgreSQL detected deadlocks here
within a second or two. The test fails on any deadlock: raised in a thread, or logged by a
callback or task that ran after a commit (those are retried now, so they are counted, not seen).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery._state import _set_task_join_will_block
from django.db import close_old_connections, connection, transaction
from django.db.models import F

from scoring.contagion import services as contagion
from scoring.contagion.models import ContagionNode
from scoring.ingestion import services as ingestion
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Event, Partner
from scoring.ledger import services as ledger
from social.graph import services as social
from social.graph.models import Friendship
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

#: Seconds every writer keeps going.
DURATION = 6.0
MEMBERS = 8


def _is_deadlock(exc: BaseException | None) -> bool:
    while exc is not None:
        if "deadlock detected" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class DeadlockLog(logging.Handler):
    """Every log record (any logger) that carries a deadlock: a robust on_commit callback or an
    eager task that failed after its commit is logged, not raised."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if (record.exc_info and _is_deadlock(record.exc_info[1])) or "deadlock detected" in text.lower():
            self.records.append(f"{record.name}: {text}")


@pytest.fixture
def deadlocks():  # type: ignore[no-untyped-def]
    handler = DeadlockLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _world() -> tuple[list[Any], Partner]:
    members = [UserFactory(username=f"w{i}") for i in range(MEMBERS)]
    partner = Partner.objects.create(name="Acme Bank", slug="acme")
    for member in members:
        consent_grant(member=member, partner=partner)
        ledger.member_state_ensure(member=member)
    # A hub (w0) and a ring: every member has friends whose points move with them.
    for i, member in enumerate(members[1:], start=1):
        _befriend(members[0], member)
        _befriend(member, members[1 + i % (MEMBERS - 1)])
    contagion.contagion_rebuild()
    return members, partner


def _befriend(a: Any, b: Any) -> None:
    if Friendship.objects.between(a.pk, b.pk).active().exists():
        return
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    if sent.request.status == "pending":
        social.friend_request_accept(request=sent.request, by=b)


def _event(member: Any, partner: Partner, n: int) -> Event:
    due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n % 300)
    return Event.objects.create(
        member=member, partner=partner, external_id=f"direct-{uuid.uuid4().hex}", kind="card_repayment",
        amount=Decimal("80.00"), currency="EUR", occurred_at=due, due_date=due.date(),
        paid_date=(due + timedelta(days=(n % 4) * 20)).date())


def _run_all(writers: dict[str, tuple[Callable[[random.Random], None], int]]) -> list[str]:
    """Run every writer in its number of threads for ``DURATION`` seconds (each thread holds a
    connection of the pool: fewer than ``DB_POOL_MAX`` in all); return the deadlocks raised in
    them (other errors fail the test)."""
    deadline = time.monotonic() + DURATION
    raised: list[str] = []
    others: list[BaseException] = []
    barrier = threading.Barrier(sum(threads for _, threads in writers.values()))

    def loop(name: str, writer: Callable[[random.Random], None], seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            while time.monotonic() < deadline:
                try:
                    writer(rng)
                except Exception as exc:
                    if _is_deadlock(exc):
                        raised.append(f"{name}: {exc}")
                    else:
                        others.append(exc)
                    close_old_connections()
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(name, writer, seed * 97 + copy))
               for seed, (name, (writer, count)) in enumerate(writers.items()) for copy in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Eager tasks in several threads race on Celery's process-wide "inside a task" flag (each
    # restores what it saw on entry): leave it as it was before them.
    _set_task_join_will_block(False)
    assert not others, others[:3]
    return raised


def test_scoring_contagion_social_writes_and_ingestion_never_deadlock(postgres, deadlocks, settings):
    settings.CONTAGION_VESTING = timedelta(0)
    members, partner = _world()
    ids = [m.pk for m in members]
    counter = iter(range(10**9))
    lock = threading.Lock()

    def n() -> int:
        with lock:
            return next(counter)

    def scoring(rng: random.Random) -> None:
        chosen = rng.sample(members, 3)
        for member in chosen:
            _event(member, partner, n())
        ledger.members_score_pending(member_ids=[m.pk for m in chosen])

    def contagion_points(rng: random.Random) -> None:
        # Move some signals as a push would, then write the points members see.
        chosen = rng.sample(ids, 4)
        with transaction.atomic():  # as a push writes: its rows locked in ascending order first
            list(ContagionNode.objects.select_for_update(no_key=True).filter(member_id__in=chosen).order_by("pk"))
            ContagionNode.objects.filter(member_id__in=chosen).update(s=F("s") + rng.uniform(-8, 8))
        contagion.social_points_write(member_ids=chosen, explanation="Your friends' scores moved")

    def contagion_bases(rng: random.Random) -> None:
        contagion.contagion_bases_sync(member_ids=rng.sample(ids, 3))

    def social_writes(rng: random.Random) -> None:
        a, b = rng.sample(members[1:], 2)
        if Friendship.objects.between(a.pk, b.pk).active().exists():
            social.friendship_unfriend(member=a, username=b.username)
        else:
            _befriend(a, b)

    def ingest(rng: random.Random) -> None:
        # Several members per batch, highest id first: their foreign-key share locks come at COMMIT.
        chosen = sorted(rng.sample(members, 3), key=lambda m: -m.pk)
        items = []
        for member in chosen:
            k = n()
            due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=k % 300)
            items.append({"member": member.username, "kind": "bill_payment", "amount": "40.00", "currency": "EUR",
                          "occurred_at": due.isoformat(), "due_date": due.date().isoformat(),
                          "paid_date": due.date().isoformat(), "external_id": f"api-{uuid.uuid4().hex}"})
        body = json.dumps({"events": items}).encode()
        outcome, _ = ingestion.idempotent(partner=partner, key=uuid.uuid4().hex, body=body,
                                          handler=lambda: ingestion.ingest_batch(partner=partner, body=body))
        assert outcome.status < 500, outcome

    raised = _run_all({"scoring": (scoring, 2), "contagion points": (contagion_points, 2),
                       "contagion bases": (contagion_bases, 1), "social": (social_writes, 1), "ingestion": (ingest, 2)})
    assert raised == [], raised[:5]
    assert deadlocks.records == [], deadlocks.records[:5]
    # The writers did real work meanwhile.
    assert Event.objects.filter(status="scored").count() > 20
