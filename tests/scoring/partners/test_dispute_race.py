"""Two answers to one dispute at once: one wins, the other is told 409, and the dispute carries
one verdict. Real threads on PostgreSQL, made to meet just before they lock the member (the
house's lock order, ``config.kernel.locks``) and claim the dispute."""

from __future__ import annotations

import contextlib
import threading
import types

import pytest

from config.kernel import locks
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create
from scoring.moderation import disputes
from scoring.moderation import services as moderation
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep
from tests.factories import UserFactory
from tests.scoring.contagion.test_edges_race import run_in_threads
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = [pytest.mark.django_db(transaction=True)]


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
    results = run_in_threads(
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
