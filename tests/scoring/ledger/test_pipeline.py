"""The scoring pipeline: pending events → ledger rows → score, exactly once, in any order."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.members.models import User
from scoring.ingestion.models import Event
from scoring.ledger import selectors, services
from scoring.ledger.models import ScoreChange, ScoreState, scoring_date
from scoring.ledger.tasks import score_members, sweep_pending_events
from scoring.model import EventFact, ProfileFacts, band_for, compute_base, describe_event, total_score

pytestmark = pytest.mark.django_db

ALICE_PROFILE = ProfileFacts(email_verified=True)


def make_event(member, partner, n: int, *, late_days: int = 0, missed: bool = False,
               kind: str = "card_repayment", status: str = Event.Status.PENDING) -> Event:
    due = date(2026, 1, 1) + timedelta(days=30 * n)
    return Event.objects.create(
        member=member, partner=partner, external_id=f"{member.username}-{n}-{kind}", kind=kind,
        amount=Decimal("100.00"),
        currency="EUR", occurred_at=datetime(due.year, due.month, due.day, 12, tzinfo=UTC),
        due_date=None if kind == "purchase" else due,
        paid_date=None if (missed or kind == "purchase") else due + timedelta(days=late_days),
        missed=missed, status=status,
    )


def fact(event: Event) -> EventFact:
    return selectors.event_fact(Event.objects.select_related("partner").get(pk=event.pk))


def test_a_new_member_gets_a_starting_score_with_one_ledger_row(alice):
    state = services.member_state_ensure(member=alice)
    expected = compute_base([], ALICE_PROFILE, as_of=scoring_date())
    assert state.base == expected.base
    assert state.score == total_score(expected.base, 0.0)
    [row] = ScoreChange.objects.filter(member=alice)
    assert (row.cause, row.old_score, row.new_score) == ("profile", None, state.score)
    assert row.explanation == "Starting score: no payment history yet, profile 1 of 5 complete"
    alice.refresh_from_db()
    assert (alice.score, alice.score_band) == (state.score, band_for(state.score))
    # Ensuring again changes nothing.
    services.member_state_ensure(member=alice)
    assert ScoreChange.objects.filter(member=alice).count() == 1


def test_each_pending_event_gets_exactly_one_ledger_row_with_its_explanation(alice, acme):
    on_time = make_event(alice, acme, 1)
    late = make_event(alice, acme, 2, late_days=14)
    assert services.member_score_pending(member_id=alice.pk) == 2
    start = compute_base([], ALICE_PROFILE, as_of=scoring_date())
    after_first = compute_base([fact(on_time)], ALICE_PROFILE, as_of=scoring_date())
    after_both = compute_base([fact(on_time), fact(late)], ALICE_PROFILE, as_of=scoring_date())
    rows = list(ScoreChange.objects.filter(member=alice).order_by("id"))
    assert [(r.cause, r.event_id) for r in rows] == [("profile", None), ("event", on_time.pk), ("event", late.pk)]
    s0, s1, s2 = (total_score(r.base, 0.0) for r in (start, after_first, after_both))
    assert [(r.old_score, r.new_score) for r in rows] == [(None, s0), (s0, s1), (s1, s2)]
    assert rows[2].old_base == after_first.base and rows[2].new_base == after_both.base
    assert rows[2].new_factors == {f.name: f.value for f in after_both.factors}
    delta = s2 - s1
    sign = "+" if delta > 0 else ("−" if delta < 0 else "±")
    assert rows[2].explanation == f"{describe_event(fact(late))}: {sign}{abs(delta)}"
    assert "Card repayment to Acme Bank 14 days late" in rows[2].explanation
    state = ScoreState.objects.get(member=alice)
    assert (state.score, state.base) == (s2, after_both.base)
    # Duplicate delivery: the same work again does nothing.
    assert services.member_score_pending(member_id=alice.pk) == 0
    score_members([alice.pk, alice.pk])
    assert ScoreChange.objects.filter(member=alice, cause="event").count() == 2


def test_paying_late_lowers_the_score_and_explains_it_with_a_minus(alice, acme):
    make_event(alice, acme, 1)
    services.member_score_pending(member_id=alice.pk)
    make_event(alice, acme, 2, missed=True)
    services.member_score_pending(member_id=alice.pk)
    row = ScoreChange.objects.filter(member=alice).order_by("-id").first()
    assert row.new_score < row.old_score
    assert row.explanation.startswith("Card repayment to Acme Bank missed: −")


def test_order_independence_the_same_events_give_the_same_score(alice, bob, acme):
    plans = [(n, random.Random(n).choice([0, 0, 5, 20, 45, 95]), n % 4 == 3) for n in range(12)]
    for n, late, missed in plans:
        make_event(alice, acme, n, late_days=late, missed=missed)
    services.member_score_pending(member_id=alice.pk)
    # Bob receives the same events in the reverse order, each scored as it arrives.
    for n, late, missed in reversed(plans):
        make_event(bob, acme, n, late_days=late, missed=missed)
        services.member_score_pending(member_id=bob.pk)
    a_state, b_state = ScoreState.objects.get(member=alice), ScoreState.objects.get(member=bob)
    assert (a_state.score, a_state.base, a_state.factors) == (b_state.score, b_state.base, b_state.factors)


def test_rescore_rebuild_equals_incremental(alice, bob, acme, capsys):
    for n in range(6):
        make_event(alice, acme, n, late_days=[0, 3, 40, 0, 0, 100][n])
        make_event(bob, acme, n, kind="purchase")
    services.members_score_pending(member_ids=[alice.pk, bob.pk])
    call_command("rescore", "--all")
    out = capsys.readouterr().out
    assert "0 differed from the stored score" in out


def test_rescore_reports_and_corrects_a_tampered_state(alice, acme, capsys):
    make_event(alice, acme, 1)
    services.member_score_pending(member_id=alice.pk)
    right = ScoreState.objects.get(member=alice).score
    ScoreState.objects.filter(member=alice).update(score=right - 7, base=123.0)
    call_command("rescore", "--member", "alice")
    out = capsys.readouterr().out
    assert f"alice: stored {right - 7}" in out and f"rebuilt {right}" in out
    assert "1 differed" in out
    assert ScoreState.objects.get(member=alice).score == right
    assert ScoreChange.objects.filter(member=alice).first().cause == "recalibration"


def test_a_failing_member_is_retried_then_marked_failed_never_dropped(
    alice, bob, acme, monkeypatch, django_capture_on_commit_callbacks
):
    """One member's events break the model: the batch falls back to one member at a time, the
    others are scored, and the broken member's events end as failed after the retries."""
    make_event(alice, acme, 1)
    make_event(bob, acme, 1)
    real = selectors.event_fact

    def broken(event):
        if event.member_id == alice.pk:
            raise ValueError("model exploded")
        return real(event)

    monkeypatch.setattr(selectors, "event_fact", broken)
    for attempt in range(1, services.MAX_SCORING_ATTEMPTS + 1):
        services.members_score_pending(member_ids=[alice.pk, bob.pk])
        event = Event.objects.get(member=alice)
        assert event.attempts == attempt
        assert event.last_error == "ValueError: model exploded"
        assert Event.objects.get(member=bob).status == Event.Status.SCORED
    assert event.status == Event.Status.FAILED
    assert ScoreChange.objects.filter(member=bob, cause="event").count() == 1
    monkeypatch.setattr(selectors, "event_fact", real)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.events_retry(event_ids=[event.pk]) == 1
    event.refresh_from_db()
    # Retried at once (eager in tests): scored now that the model works again.
    assert event.status == Event.Status.SCORED and event.attempts == 1


def test_the_sweeper_recovers_events_whose_enqueue_was_lost(alice, acme):
    old = make_event(alice, acme, 1)
    fresh = make_event(alice, acme, 2)
    Event.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    # Eager in tests: the sweeper's enqueue runs the task at once.
    assert sweep_pending_events() == 1
    assert Event.objects.get(pk=old.pk).status == Event.Status.SCORED
    # The member's other pending event is scored in the same pass (per-member work).
    assert Event.objects.get(pk=fresh.pk).status == Event.Status.SCORED


def test_profile_completeness_change_rescores_with_a_profile_row(alice, django_capture_on_commit_callbacks):
    from accounts.members.services import user_update_profile

    services.member_state_ensure(member=alice)
    before = ScoreState.objects.get(member=alice).score
    with django_capture_on_commit_callbacks(execute=True):
        user_update_profile(user=alice, data={"city": "Lyon", "phone": "+33 1"})
    row = ScoreChange.objects.filter(member=alice).first()
    profile = ProfileFacts(email_verified=True, city=True, phone=True)
    expected = total_score(compute_base([], profile, as_of=scoring_date()).base, 0.0)
    assert (row.cause, row.old_score, row.new_score) == ("profile", before, expected)
    assert row.explanation.startswith("Profile completeness changed: +")
    # The content of a field never matters, only whether it is filled.
    with django_capture_on_commit_callbacks(execute=True):
        user_update_profile(user=alice, data={"city": "Paris"})
    assert ScoreChange.objects.filter(member=alice).count() == 2


def test_score_changed_signal_once_after_commit(alice, acme, django_capture_on_commit_callbacks):
    from scoring.ledger.signals import score_changed

    seen = []
    score_changed.connect(lambda sender, **kw: seen.append(kw), weak=False, dispatch_uid="t")
    try:
        services.member_state_ensure(member=alice)
        make_event(alice, acme, 1, missed=True)
        with django_capture_on_commit_callbacks(execute=True):
            services.member_score_pending(member_id=alice.pk)
    finally:
        score_changed.disconnect(dispatch_uid="t")
    state = ScoreState.objects.get(member=alice)
    assert len(seen) == 1
    assert seen[0]["member_id"] == alice.pk and seen[0]["new_score"] == state.score
    assert seen[0]["cause"] == "event"


def test_user_model_stays_in_step(alice, acme):
    make_event(alice, acme, 1, late_days=60)
    services.member_score_pending(member_id=alice.pk)
    alice = User.objects.get(pk=alice.pk)
    state = ScoreState.objects.get(member=alice)
    assert alice.score == state.score and alice.score_band == band_for(state.score)
    assert alice.score_reached_at is not None


def test_a_scoring_batch_sends_scores_changed_once_and_no_score_changed(
        alice, bob, acme, django_capture_on_commit_callbacks):
    from scoring.ledger.signals import score_changed, scores_changed

    batches, singles = [], []
    scores_changed.connect(lambda sender, **kw: batches.append(kw["changes"]), weak=False, dispatch_uid="t")
    score_changed.connect(lambda sender, **kw: singles.append(kw), weak=False, dispatch_uid="t1")
    try:
        make_event(alice, acme, 1, missed=True)
        make_event(bob, acme, 1)
        with django_capture_on_commit_callbacks(execute=True):
            services.members_score_pending(member_ids=[bob.pk, alice.pk])
    finally:
        scores_changed.disconnect(dispatch_uid="t")
        score_changed.disconnect(dispatch_uid="t1")
    assert singles == []
    assert len(batches) == 1
    last = {row.member_id: row for row in ScoreChange.objects.order_by("id")}
    assert batches[0] == [
        {"member_id": m.pk, "old_score": None, "new_score": ScoreState.objects.get(member=m).score,
         "cause": "event", "explanation": last[m.pk].explanation}
        for m in sorted((alice, bob), key=lambda m: m.pk)
    ]
    json.dumps(batches[0])
