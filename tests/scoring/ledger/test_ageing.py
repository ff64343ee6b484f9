"""Time as a cause: scores age with the calendar, on ledger rows of their own (DESIGN §3)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from scoring.ingestion.models import Event
from scoring.ledger import selectors, services
from scoring.ledger.ageing import ageing_sweep, members_age
from scoring.ledger.bulk import members_score_pending_bulk
from scoring.ledger.models import FollowUp, ScoreChange, ScoreState
from scoring.ledger.rebuild import member_rebuild
from scoring.ledger.tasks import age_scores
from scoring.model import compute_base, describe_ageing, total_score
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 10, 12, tzinfo=UTC)


def payment(member, partner, due: date, *, missed: bool = False, late_days: int = 0, ref: str = "",
            kind: str = "card_repayment") -> Event:  # type: ignore[no-untyped-def]
    return Event.objects.create(
        member=member, partner=partner, external_id=f"{member.username}-{kind}-{due}-{ref}", kind=kind,
        amount=Decimal("200.00"), currency="EUR", occurred_at=datetime(due.year, due.month, due.day, 12, tzinfo=UTC),
        due_date=due, paid_date=None if missed else due + timedelta(days=late_days), missed=missed)


def expected_state(member) -> float:  # type: ignore[no-untyped-def]
    state = ScoreState.objects.get(member=member)
    return compute_base(selectors.facts_of(selectors.scored_events(member_id=member.pk)),
                        selectors.profile_facts(member=member), as_of=state.as_of).base


def test_a_missed_payment_counts_less_with_time_on_a_row_of_its_own(alice, acme):
    with time_machine.travel(DAY, tick=False):
        payment(alice, acme, date(2026, 3, 5), missed=True)
        services.member_score_pending(member_id=alice.pk)
    scored = ScoreState.objects.get(member=alice)
    assert scored.as_of == DAY.date()

    with time_machine.travel(DAY + timedelta(days=60), tick=False):
        assert ageing_sweep() == 1
        assert ageing_sweep() == 0  # once a day: the second run finds everyone on today's date

    state = ScoreState.objects.get(member=alice)
    row = ScoreChange.objects.filter(member=alice).first()
    assert state.as_of == date(2026, 5, 9)
    assert state.score > scored.score
    assert (row.cause, row.event_id, row.old_score, row.new_score) == ("ageing", None, scored.score, state.score)
    assert row.explanation == f"Late or missed payments of March now count less: +{state.score - scored.score}"
    assert row.created_at == DAY + timedelta(days=60)
    assert state.base == expected_state(alice)
    alice.refresh_from_db()
    assert alice.score == state.score
    # The stored score is reproduced by a rebuild on its own date.
    assert member_rebuild(member_id=alice.pk, write=False) is None


def test_a_good_record_fades_toward_the_middle_and_the_ledger_adds_up(alice, acme):
    with time_machine.travel(DAY, tick=False):
        for n in range(6):
            payment(alice, acme, date(2025, 10, 1) + timedelta(days=30 * n), ref=str(n))
        services.member_score_pending(member_id=alice.pk)
    first = ScoreState.objects.get(member=alice).score
    for years in (1, 2, 3):
        with time_machine.travel(DAY + timedelta(days=365 * years), tick=False):
            ageing_sweep()
    state = ScoreState.objects.get(member=alice)
    rows = list(ScoreChange.objects.filter(member=alice).order_by("created_at", "id"))
    assert state.score < first
    assert {r.cause for r in rows[-3:]} == {"ageing"}
    assert all(r.explanation.startswith("On-time payments of ") for r in rows[-3:])
    # Every point is explained: the rows chain, and their deltas add up to the score.
    assert all(a.new_score == b.old_score for a, b in itertools.pairwise(rows))
    assert rows[0].new_score + sum(r.delta for r in rows[1:]) == state.score


def test_members_without_events_only_get_the_new_date(alice, acme):
    bob = UserFactory(username="bob")
    with time_machine.travel(DAY, tick=False):
        services.member_state_ensure(member=bob)
    before = ScoreState.objects.get(member=bob)
    with time_machine.travel(DAY + timedelta(days=30), tick=False):
        assert ageing_sweep() == 0
    after = ScoreState.objects.get(member=bob)
    assert (after.as_of, after.score, after.base) == (date(2026, 4, 9), before.score, before.base)
    assert ScoreChange.objects.filter(member=bob).count() == 1


def test_an_event_after_days_without_a_sweep_shows_only_its_own_effect(alice, acme):
    with time_machine.travel(DAY, tick=False):
        payment(alice, acme, date(2026, 3, 1), missed=True, ref="a")
        payment(alice, acme, date(2026, 3, 1), missed=True, ref="b", kind="bill_payment")
        services.member_score_pending(member_id=alice.pk)
    before = ScoreState.objects.get(member=alice)
    later = DAY + timedelta(days=45)
    with time_machine.travel(later, tick=False):
        late = payment(alice, acme, date(2026, 4, 10), late_days=40, ref="c")
        services.member_score_pending(member_id=alice.pk)
    ageing, event_row = ScoreChange.objects.filter(member=alice).order_by("-id")[:2][::-1]
    assert (ageing.cause, ageing.old_score) == ("ageing", before.score)
    assert ageing.delta > 0  # the missed payments of March weigh less
    assert (event_row.cause, event_row.event_id, event_row.old_score) == ("event", late.pk, ageing.new_score)
    assert event_row.delta <= 0  # a late payment never raises the score
    assert event_row.explanation.startswith("Card repayment to Acme Bank 40 days late: ")
    state = ScoreState.objects.get(member=alice)
    assert (state.as_of, state.base) == (later.date(), expected_state(alice))


def test_the_batch_scorer_writes_the_same_ageing_row(alice, acme):
    bob = UserFactory(username="bob")
    with time_machine.travel(DAY, tick=False):
        for member in (alice, bob):
            payment(member, acme, date(2026, 3, 1), missed=True)
        members_score_pending_bulk(member_ids=[alice.pk, bob.pk])
    with time_machine.travel(DAY + timedelta(days=45), tick=False):
        payment(alice, acme, date(2026, 4, 10), ref="x")
        payment(bob, acme, date(2026, 4, 10), ref="x")
        services.member_score_pending(member_id=alice.pk)
        members_score_pending_bulk(member_ids=[bob.pk])
    rows = {m.username: [(r.cause, r.old_score, r.new_score, r.explanation)
                         for r in ScoreChange.objects.filter(member=m).order_by("id")] for m in (alice, bob)}
    assert rows["alice"][1:] == rows["bob"][1:]
    assert [r[0] for r in rows["alice"]] == ["profile", "event", "ageing", "event"]
    assert ScoreState.objects.get(member=bob).base == ScoreState.objects.get(member=alice).base


def test_replaying_history_dates_the_rows_and_the_state(alice, acme):
    with time_machine.travel(DAY, tick=False):
        payment(alice, acme, date(2025, 6, 1), missed=True)
    moment = datetime(2025, 6, 2, 9, tzinfo=UTC)
    members_score_pending_bulk(member_ids=[alice.pk], now=moment)
    assert set(ScoreChange.objects.filter(member=alice).values_list("created_at", flat=True)) == {moment}
    assert ScoreState.objects.get(member=alice).as_of == date(2025, 6, 2)
    assert members_age(member_ids=[alice.pk], now=datetime(2025, 9, 1, tzinfo=UTC)) == 1
    row = ScoreChange.objects.filter(member=alice).first()
    assert (row.cause, row.created_at) == ("ageing", datetime(2025, 9, 1, tzinfo=UTC))
    assert row.explanation.startswith("Late or missed payments of June now count less: +")


def test_rescore_all_reproduces_every_stored_score_after_ageing(alice, acme):
    bob = UserFactory(username="bob")
    with time_machine.travel(DAY, tick=False):
        for member in (alice, bob):
            payment(member, acme, date(2026, 2, 1), late_days=45)
            services.member_score_pending(member_id=member.pk)
    with time_machine.travel(DAY + timedelta(days=20), tick=False):
        members_age(member_ids=[alice.pk])  # bob stays on the older date
        call_command("rescore", "--all", "--dry-run")
    assert [member_rebuild(member_id=m.pk, write=False) for m in (alice, bob)] == [None, None]


def test_the_ageing_task_runs_hourly_and_moves_scores(alice, acme):
    assert settings.CELERY_BEAT_SCHEDULE["scoring-age-scores"] == {"task": "scoring.ledger.tasks.age_scores",
                                                                   "schedule": 3600.0}
    with time_machine.travel(DAY, tick=False):
        payment(alice, acme, date(2026, 3, 1), missed=True)
        services.member_score_pending(member_id=alice.pk)
    with time_machine.travel(DAY + timedelta(days=30), tick=False):
        assert age_scores.delay().get() == 1


def test_describe_ageing_is_what_the_row_says(alice, acme):
    with time_machine.travel(DAY, tick=False):
        payment(alice, acme, date(2026, 3, 1), missed=True)
        services.member_score_pending(member_id=alice.pk)
    facts = selectors.facts_of(selectors.scored_events(member_id=alice.pk))
    old = ScoreState.objects.get(member=alice)
    with time_machine.travel(DAY + timedelta(days=90), tick=False):
        ageing_sweep()
    new = ScoreState.objects.get(member=alice)
    row = ScoreChange.objects.filter(member=alice).first()
    assert row.explanation == (f"{describe_ageing(facts, old.as_of, new.as_of)}: "
                               f"+{total_score(new.base, new.social) - old.score}")


def test_ageing_records_its_follow_up_with_the_change(alice, acme, django_capture_on_commit_callbacks):
    """A worker killed right after the ageing commit leaves marks the follow-up sweeper completes."""
    with time_machine.travel(DAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        payment(alice, acme, date(2026, 3, 1), missed=True)
        services.member_score_pending(member_id=alice.pk)
    assert not FollowUp.objects.exists()
    with time_machine.travel(DAY + timedelta(days=30), tick=False), django_capture_on_commit_callbacks(
            execute=False):
        assert ageing_sweep() == 1
    assert set(FollowUp.objects.values_list("member_id", "kind")) == {(alice.pk, "score"), (alice.pk, "base")}
