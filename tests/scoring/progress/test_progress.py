"""Progress to the next band: exact points, exact what-if gains, never a write, the top band."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from scoring.explain.whatif import what_if
from scoring.ingestion.models import Event
from scoring.ledger import selectors, services
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model import PARAMS, band_bounds, band_for, compute_base, total_score
from scoring.progress.next_band import BEST_FEW, member_progress
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_one_day():  # type: ignore[no-untyped-def]
    """Scores age with the calendar: score and compare on one day, so the gains are exact."""
    with time_machine.travel(NOW, tick=False):
        yield


def add_event(member, partner, n: int, *, kind: str = "card_repayment", late_days: int = 0,  # type: ignore[no-untyped-def]
              amount: str = "100.00") -> Event:
    due = date(2026, 6, 1) + timedelta(days=30 * n)
    return Event.objects.create(
        member=member, partner=partner, external_id=f"{member.username}-{kind}-{n}", kind=kind,
        amount=Decimal(amount), currency="EUR", occurred_at=datetime(due.year, due.month, due.day, 12, tzinfo=UTC),
        due_date=due, paid_date=due + timedelta(days=late_days),
    )


def with_social_at(member, score: int) -> ScoreState:  # type: ignore[no-untyped-def]
    """Set the member's social points so that their (consistent) stored score is ``score``."""
    state = services.member_state_ensure(member=member)
    base = compute_base(selectors.facts_of(selectors.scored_events(member_id=member.pk)),
                        selectors.profile_facts(member=member), as_of=state.as_of).base
    social = score - base  # total_score rounds base + social: exactly ``score``
    assert abs(social) <= 60
    state.social, state.score = social, total_score(base, social)
    state.save()
    assert state.score == score
    return state


def expected(member, *, extra=(), **profile_fields) -> int:  # type: ignore[no-untyped-def]
    facts = selectors.facts_of(selectors.scored_events(member_id=member.pk))
    profile = replace(selectors.profile_facts(member=member), **profile_fields)
    state = ScoreState.objects.filter(member=member).first()
    return total_score(compute_base([*facts, *extra], profile, as_of=NOW.date()).base,
                       state.social if state else 0.0)


def test_band_bounds_follow_the_models_bands():
    lows = [low for low, _ in PARAMS.bands]
    for low, name in PARAMS.bands:
        assert band_bounds(low - 1)[1:] == (name, low)
        assert band_for(low - 1) != name and band_for(low) == name
    assert band_bounds(lows[-1]) == (lows[-1], None, None)
    assert band_bounds(PARAMS.score_min) == (PARAMS.score_min, PARAMS.bands[0][1], lows[0])


def test_points_needed_and_gains_equal_the_what_if_simulator(alice, acme):
    add_event(alice, acme, 0, late_days=35)
    add_event(alice, acme, 1, kind="bill_payment", amount="80.00")
    services.member_score_pending(member_id=alice.pk)
    with time_machine.travel(NOW, tick=False):
        p = member_progress(member=alice)
        for code, kind, amount in (("bill_on_time", "bill_payment", "80.00"),
                                   ("card_on_time", "card_repayment", "100.00")):
            sim = what_if(member=alice, scenario={"kind": kind, "amount": Decimal(amount), "days_late": 0,
                                                  "missed": False})
            option = next((o for o in p.options if o.code == code), None)
            if option is None:  # only gains are offered
                assert sim["delta"] <= 0, (code, sim)
            else:
                assert (option.points, option.new_score) == (sim["delta"], sim["simulated"]["score"])
    alice.refresh_from_db()
    _low, next_band, next_min = band_bounds(alice.score)
    assert (p.score, p.band, p.next_band, p.next_band_min) == (alice.score, band_for(alice.score), next_band, next_min)
    assert p.points_needed == next_min - alice.score
    # Profile items: alice has only a verified email; each missing item's exact gain.
    for name in ("phone", "city", "avatar", "bio"):
        option = next(o for o in p.options if o.code == f"profile_{name}")
        assert option.points == expected(alice, **{name: True}) - alice.score
        assert option.link == reverse("settings")
    assert "profile_email_verified" not in {o.code for o in p.options}


def test_just_below_a_band_the_behaviours_that_reach_it(alice, acme):
    for n in range(3):
        add_event(alice, acme, n, late_days=40 if n == 0 else 0)
    services.member_score_pending(member_id=alice.pk)
    base = services.member_state_ensure(member=alice).base
    # One point below the nearest band the social points can reach (whatever the calibration).
    low, name = min(PARAMS.bands, key=lambda band: abs(band[0] - 1 - base))
    with_social_at(alice, low - 1)
    with time_machine.travel(NOW, tick=False):
        p = member_progress(member=alice)
    assert (p.score, p.next_band, p.next_band_min, p.points_needed) == (low - 1, name, low, 1)
    assert p.message == f"1 point to {name} ({low}+)."
    assert p.gets_there and all(o.reaches_next_band and o.new_score >= low for o in p.gets_there)
    assert {o.code for o in p.gets_there} == {o.code for o in p.options if o.points >= 1}
    assert [o.points for o in p.options] == sorted((o.points for o in p.options), reverse=True)


def test_far_below_a_band_the_best_few(alice, acme):
    # Many recent late payments: one more payment moves the means only a little.
    for n in range(10):
        for kind in ("card_repayment", "bill_payment"):
            Event.objects.create(
                member=alice, partner=acme, external_id=f"{kind}-{n}", kind=kind, amount=Decimal("50.00"),
                currency="EUR", occurred_at=NOW - timedelta(days=2, hours=n), due_date=date(2026, 11, 1),
                paid_date=date(2026, 11, 11))
    services.member_score_pending(member_id=alice.pk)
    state = services.member_state_ensure(member=alice)
    with time_machine.travel(NOW, tick=False):
        biggest = max(o.points for o in member_progress(member=alice).options)
    # The lowest score of a band within reach of the social points, further from the next band
    # than the biggest gain.
    lows = [PARAMS.score_min] + [low for low, _ in PARAMS.bands]
    target, next_min = next((t, high) for low, high in itertools.pairwise(lows)
                            for t in [max(low, round(state.base) - 59)]
                            if t < high and abs(t - state.base) <= 59 and high - t > biggest + 1)
    with_social_at(alice, target)
    with time_machine.travel(NOW, tick=False):
        p = member_progress(member=alice)
    assert (p.points_needed, p.next_band_min) == (next_min - target, next_min)
    assert not p.reachable_now and not any(o.reaches_next_band for o in p.options)
    assert p.gets_there == p.options[:BEST_FEW] and len(p.gets_there) == BEST_FEW
    assert p.gets_there[0].points == biggest


def test_top_band(alice, acme):
    for n in range(4):
        add_event(alice, acme, n)
    services.member_score_pending(member_id=alice.pk)
    top = PARAMS.bands[-1][0] + 20
    state = services.member_state_ensure(member=alice)
    # Stored as such whatever the calibration (the social cap is the contagion engine's business).
    state.social, state.score = top - state.base, top
    state.save()
    p = member_progress(member=alice)
    assert (p.top_band, p.next_band, p.points_needed, p.percent) == (True, None, None, 100)
    assert p.message == f"{top}: you are in the top band, {PARAMS.bands[-1][1]}. Keep paying on time to stay there."
    assert all(not o.reaches_next_band for o in p.options)


def test_progress_never_writes(alice, acme, django_assert_num_queries):
    add_event(alice, acme, 0)
    services.member_score_pending(member_id=alice.pk)
    counts = (Event.objects.count(), ScoreChange.objects.count(), ScoreState.objects.count())
    with django_assert_num_queries(3):  # state, events, email verification: reads only
        member_progress(member=alice)
    assert (Event.objects.count(), ScoreChange.objects.count(), ScoreState.objects.count()) == counts


def test_a_member_never_scored_gets_progress_without_a_state_being_created(bob):
    p = member_progress(member=bob)
    assert p.score == expected(bob)
    assert not ScoreState.objects.filter(member=bob).exists()
    assert not ScoreChange.objects.filter(member=bob).exists()


# --- API -----------------------------------------------------------------------------------------


def test_api_progress_is_mine(api_as, alice, mallory, acme):
    add_event(alice, acme, 0, late_days=35)
    services.member_score_pending(member_id=alice.pk)
    with time_machine.travel(NOW, tick=False):
        body = api_as(alice).get("/api/v1/me/score/progress/").json()
        p = member_progress(member=alice)
    assert body == {**p.as_dict()}
    assert body["score"] == alice.__class__.objects.get(pk=alice.pk).score
    assert {"code", "text", "points", "points_text", "new_score", "reaches_next_band", "link"} == set(
        body["options"][0])
    # Mallory reads her own progress, never alice's.
    theirs = api_as(mallory).get("/api/v1/me/score/progress/").json()
    assert theirs["score"] == member_progress(member=mallory).score
    assert not ScoreState.objects.filter(member=mallory).exists()


@pytest.mark.parametrize("path", ["/api/v1/me/score/progress/", "/api/v1/me/streak/"])
def test_anonymous_gets_401(api, path):
    response = api.get(path)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_api_streak(api_as, acme, mallory):
    alice = UserFactory(username="alice", timezone="Europe/Berlin")
    for month in (9, 10):
        Event.objects.create(member=alice, partner=acme, external_id=f"s{month}", kind="bill_payment",
                             amount=Decimal("10"), currency="EUR",
                             occurred_at=datetime(2026, month, 3, 12, tzinfo=UTC), due_date=date(2026, month, 3),
                             paid_date=date(2026, month, 3), status=Event.Status.SCORED)
    with time_machine.travel(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tick=False):  # Dec 1, 00:30 in Berlin
        body = api_as(alice).get("/api/v1/me/streak/").json()
    assert (body["current_months"], body["best_months"], body["breaks_on"], body["today"], body["timezone"]) == (
        0, 2, None, "2026-12-01", "Europe/Berlin")
    with time_machine.travel(datetime(2026, 11, 30, 22, 30, tzinfo=UTC), tick=False):  # Nov 30, 23:30
        body = api_as(alice).get("/api/v1/me/streak/").json()
    assert (body["current_months"], body["last_on_time"], body["keep_by"], body["breaks_on"]) == (
        2, "2026-10-03", "2026-11-30", "2026-12-01")
    assert body["months"][-3:] == [{"month": "2026-09", "state": "kept"}, {"month": "2026-10", "state": "kept"},
                                   {"month": "2026-11", "state": "open"}]
    # Mallory reads her own (empty) streak, never alice's.
    theirs = api_as(mallory).get("/api/v1/me/streak/").json()
    assert (theirs["current_months"], theirs["best_months"], theirs["last_on_time"]) == (0, 0, None)


def test_options_add_their_gain_to_the_score_the_member_sees(alice, acme):
    """The stored score can differ from what the model says today (a recalibration not yet
    rescored): each option is that score plus the option's exact gain, never the model's own."""
    for n in range(3):
        add_event(alice, acme, n, late_days=40)
    services.member_score_pending(member_id=alice.pk)
    state = services.member_state_ensure(member=alice)
    shown = state.score - 5
    ScoreState.objects.filter(pk=state.pk).update(score=shown)
    with time_machine.travel(NOW, tick=False):
        p = member_progress(member=alice)
    assert p.score == shown and p.options
    for o in p.options:
        assert o.new_score == shown + o.points
        assert o.reaches_next_band == (p.next_band_min is not None and o.new_score >= p.next_band_min)


@pytest.mark.parametrize("late_days", [None, 0, 45])
def test_paying_on_time_ranks_above_any_profile_change_worth_no_more(alice, acme, late_days):  # type: ignore[no-untyped-def]
    if late_days is not None:
        for n in range(4):
            add_event(alice, acme, n, late_days=late_days if n == 3 else 0)
            add_event(alice, acme, n, kind="bill_payment", amount="80.00")
        services.member_score_pending(member_id=alice.pk)
    options = member_progress(member=alice).options
    payments = [o for o in options if not o.code.startswith("profile_")]
    profile = [o for o in options if o.code.startswith("profile_")]
    assert payments and profile
    for pay in payments:
        for item in profile:
            if pay.points >= item.points:
                assert options.index(pay) < options.index(item), (pay, item)
    assert [o.points for o in options] == sorted((o.points for o in options), reverse=True)
