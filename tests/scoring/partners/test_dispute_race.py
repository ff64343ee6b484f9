"""Two answers to one dispute at once: one wins, the other is told 409, and the dispute carries
one verdict. Real threads on PostgreSQL, made to meet just before they lock the member (the
house's lock order, ``config.kernel.locks``) and claim the dispute."""

from __future__ import annotations

import contextlib
import threading
import types

import pytest
from celery._state import _set_task_join_will_block
from django.db import connection

from config.kernel import locks
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create
from scoring.moderation import disputes
from scoring.moderation import services as moderation
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep
from tests.factories import UserFactory
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = [pytest.mark.django_db(transaction=True)]


def _together(*calls):  # type: ignore[no-untyped-def]
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # returned for the test to read
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _set_task_join_will_block(False)  # eager tasks in threads race on Celery's process-wide flag
    return results


@pytest.mark.parametrize("second", ["confirmed", "withdrawn"])
def test_two_answers_at_once_one_wins(postgres, monkeypatch, second):
    partner_create(name="Acme Bank", slug="acme")
    acme = Partner.objects.get(slug="acme")
    alice = UserFactory(username="alice")
    event = make_event(alice, acme, 0)  # pending: the answer's outcome does not wait on scoring
    dispute = moderation.dispute_open(member=alice, event_id=event.pk, reason="Not mine")

    barrier = threading.Barrier(2)
    met = threading.local()

    def member_lock(member_id: int):  # type: ignore[no-untyped-def]
        if not getattr(met, "done", False):  # the answers' first lock only
            met.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
        return locks.member_lock(member_id)

    monkeypatch.setattr(disputes, "locks", types.SimpleNamespace(member_lock=member_lock))
    results = _together(
        lambda: disputes.dispute_partner_answer(partner=acme, external_id=event.external_id, verdict="withdrawn",
                                                note="Ours by mistake"),
        lambda: disputes.dispute_partner_answer(partner=acme, external_id=event.external_id, verdict=second,
                                                note="Second answer"),
    )
    won = [r for r in results if isinstance(r, Dispute)]
    lost = [r for r in results if isinstance(r, disputes.DisputeConflict)]
    assert (len(won), len(lost)) == (1, 1), results
    assert lost[0].status == 409 and lost[0].code in {"already_answered", "no_open_dispute"}
    dispute.refresh_from_db()
    assert dispute.partner_verdict == won[0].partner_verdict
    assert AuditEntry.objects.filter(action="dispute_partner_answer").count() == 1
    assert DisputeStep.objects.filter(dispute=dispute, by="partner").count() == 1
