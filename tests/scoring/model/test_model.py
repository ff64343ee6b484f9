"""The pure score model: factor arithmetic, bands, thin files, determinism, monotonicity."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.model import (
    PARAMS,
    BaseResult,
    EventFact,
    ProfileFacts,
    ReasonCode,
    ScoringParams,
    band_for,
    compute_base,
    describe_event,
    reasons,
    total_score,
)
from scoring.model.factors import (
    BILL_PAYMENT_TIMELINESS,
    CARD_REPAYMENT_TIMELINESS,
    FACTOR_NAMES,
    PROFILE_COMPLETENESS,
    PURCHASE_VOLUME,
    event_quality,
    timeliness,
)

# Round constants so the expected values below can be worked out by hand.
HAND = ScoringParams(
    quality_late_1_29=0.75,
    quality_late_30_59=0.5,
    quality_late_60_89=0.25,
    partial_payment_floor=0.5,
    partial_payment_exponent=1.0,
    timeliness_half_life_days=30.0,
    card_prior=0.5,
    card_prior_strength=1.0,
    bill_prior=0.5,
    bill_prior_strength=2.0,
    purchase_half_life_days=30.0,
    purchase_half_saturation=100.0,
    purchase_shape=1.0,
)
T0 = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
NO_PROFILE = ProfileFacts()
FULL_PROFILE = ProfileFacts(email_verified=True, phone=True, city=True, avatar=True, bio=True)


def repayment(
    kind: str = "card_repayment",
    *,
    days_ago: float = 0,
    late: int | None = 0,
    amount: str = "100.00",
    paid: str | None = None,
    ref: str = "",
    label: str = "",
) -> EventFact:
    """A repayment due ``days_ago`` days before T0, paid ``late`` days late (None = missed)."""
    at = T0 - timedelta(days=days_ago)
    due = at.date()
    return EventFact(
        kind=kind,
        occurred_at=at,
        amount=Decimal(amount),
        due_date=due,
        paid_date=None if late is None else due + timedelta(days=late),
        missed=late is None,
        amount_paid=None if paid is None else Decimal(paid),
        ref=ref,
        label=label,
    )


def purchase(amount: str, *, days_ago: float = 0, ref: str = "", label: str = "") -> EventFact:
    return EventFact(
        kind="purchase",
        occurred_at=T0 - timedelta(days=days_ago),
        amount=Decimal(amount),
        ref=ref,
        label=label,
    )


def values(result: BaseResult) -> dict[str, float]:
    return {f.name: f.value for f in result.factors}


# --- exact factor arithmetic ----------------------------------------------------------------


def test_hand_built_member_exact_factors_and_points() -> None:
    events = [
        repayment(days_ago=0, late=0),  # q 1, weight 1
        repayment(days_ago=30, late=35),  # 30-59 days late: q 0.5, weight 0.5
        repayment("bill_payment", days_ago=10, late=None),  # missed: q 0
        repayment("bill_payment", days_ago=10, late=0, paid="25.00"),  # 1/4 paid: 0.5+0.5/4
        purchase("50.00", days_ago=0),  # weight 1
        purchase("100.00", days_ago=30),  # weight 1/2: recent spend 100 = half-saturation
    ]
    result = compute_base(events, ProfileFacts(email_verified=True, phone=True, city=True), HAND)

    # Weighted mean of the prior (weight = strength) and the events (weight = recency weight).
    card = (1 * 0.5 + 1.0 * 1.0 + 0.5 * 0.5) / (1 + 1.0 + 0.5)  # prior 0.5, strength 1: 0.7
    bill = (2 * 0.5 + 1 * 0.0 + 1 * 0.625) / (2 + 1 + 1)  # 0 and 0.625, both weight 1; strength 2
    assert [f.name for f in result.factors] == list(FACTOR_NAMES)
    assert values(result) == pytest.approx(
        {
            CARD_REPAYMENT_TIMELINESS: 0.7,
            BILL_PAYMENT_TIMELINESS: 0.40625,
            PURCHASE_VOLUME: 0.5,
            PROFILE_COMPLETENESS: 0.6,
        },
        abs=1e-12,
    )
    assert card == pytest.approx(0.7, abs=1e-15)
    assert bill == 0.40625
    points = {f.name: f.points for f in result.factors}
    assert points == pytest.approx(
        {
            CARD_REPAYMENT_TIMELINESS: 147.0,  # 210 * 0.7
            BILL_PAYMENT_TIMELINESS: 85.3125,
            PURCHASE_VOLUME: 45.0,
            PROFILE_COMPLETENESS: 54.0,
        },
        abs=1e-9,
    )
    assert [f.events for f in result.factors] == [2, 2, 2, 0]
    assert result.base == 350 + sum(f.points for f in result.factors)  # exactly, as promised
    assert result.base == pytest.approx(350 + 147 + 85.3125 + 45 + 54, abs=1e-9)
    assert result.missing_profile == ("avatar", "bio")


def test_lateness_buckets() -> None:
    qualities = {
        late: compute_base([repayment(late=late)], NO_PROFILE, HAND).factor(CARD_REPAYMENT_TIMELINESS)
        for late in (-3, 0, 1, 29, 30, 59, 60, 89, 90, 400, None)
    }
    # one event, prior 0.5 at strength 1: value = (0.5 + q) / 2
    expected_q = {-3: 1, 0: 1, 1: 0.75, 29: 0.75, 30: 0.5, 59: 0.5, 60: 0.25, 89: 0.25}
    for late, factor in qualities.items():
        assert factor.value == (0.5 + expected_q.get(late, 0.0)) / 2, late


def test_partial_payment_scales_quality_and_overpayment_counts_as_full() -> None:
    def bill_value(paid: str | None) -> float:
        events = [repayment("bill_payment", late=0, paid=paid)]
        return compute_base(events, NO_PROFILE, HAND).factor(BILL_PAYMENT_TIMELINESS).value

    # one event, prior 0.5 at strength 2: value = (1 + q) / 3
    assert bill_value(None) == bill_value("100.00") == bill_value("150.00") == (1 + 1.0) / 3
    assert bill_value("50.00") == pytest.approx((1 + 0.75) / 3, abs=1e-15)
    assert bill_value("0.00") == pytest.approx((1 + 0.5) / 3, abs=1e-15)


def test_purchase_volume_saturates_and_ignores_refunds() -> None:
    def volume(*amounts: str) -> float:
        events = [purchase(a, ref=str(i)) for i, a in enumerate(amounts)]
        return compute_base(events, NO_PROFILE, HAND).factor(PURCHASE_VOLUME).value

    assert volume() == 0.0
    assert volume("100.00") == 0.5
    assert volume("300.00") == 0.75
    assert volume("300.00", "-500.00") == 0.75
    assert volume("1000000.00") == pytest.approx(1.0, abs=1e-3)


def test_purchases_age_against_the_members_latest_event() -> None:
    old = purchase("200.00", days_ago=30)
    alone = compute_base([old], NO_PROFILE, HAND).factor(PURCHASE_VOLUME).value
    later = compute_base([old, repayment(days_ago=0)], NO_PROFILE, HAND).factor(PURCHASE_VOLUME)
    assert alone == pytest.approx(2 / 3, abs=1e-15)  # its own "now": weight 1
    assert later.value == pytest.approx(0.5, abs=1e-15)  # a month older than the latest event


# --- thin files --------------------------------------------------------------------------


def test_no_events_gives_the_priors() -> None:
    result = compute_base([], NO_PROFILE)
    assert values(result) == {
        CARD_REPAYMENT_TIMELINESS: PARAMS.card_prior,
        BILL_PAYMENT_TIMELINESS: PARAMS.bill_prior,
        PURCHASE_VOLUME: 0.0,
        PROFILE_COMPLETENESS: 0.0,
    }
    assert result.base == 350 + 600 * 0.35 * PARAMS.card_prior + 600 * 0.35 * PARAMS.bill_prior
    # The product promise behind the prior ranges: a newcomer starts mid-table.
    assert band_for(total_score(result.base, 0)) in {"Building", "Fair"}
    full = compute_base([], FULL_PROFILE)
    assert band_for(total_score(full.base, 0)) in {"Good", "Very good"}


def test_few_events_are_smoothed_toward_the_prior() -> None:
    k, p = PARAMS.card_prior_strength, PARAMS.card_prior
    on_time = [repayment(days_ago=30 * i, ref=str(i)) for i in range(3)]
    missed = [repayment(days_ago=30 * i, late=None, ref=str(i)) for i in range(3)]
    for n in (1, 2, 3):
        good = compute_base(on_time[:n], NO_PROFILE).factor(CARD_REPAYMENT_TIMELINESS).value
        bad = compute_base(missed[:n], NO_PROFILE).factor(CARD_REPAYMENT_TIMELINESS).value
        # The latest event weighs 1, one a month older 2 ** (-30 / half-life), and so on.
        weight = sum(2.0 ** (-30 * i / PARAMS.timeliness_half_life_days) for i in range(n))
        assert good == pytest.approx((k * p + weight) / (k + weight), abs=1e-12)
        assert bad == pytest.approx(k * p / (k + weight), abs=1e-12)


# --- score, bands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (350, "Building"),
        (549, "Building"),
        (550, "Fair"),
        (599, "Fair"),
        (600, "Good"),
        (649, "Good"),
        (650, "Very good"),
        (699, "Very good"),
        (700, "Excellent"),
        (950, "Excellent"),
    ],
)
def test_band_boundaries(score: int, band: str) -> None:
    assert band_for(score) == band


@pytest.mark.parametrize(
    ("base", "social", "score"),
    [
        (649.5, 0.0, 650),  # halves round up
        (649.49, 0.0, 649),
        (600.0, -0.5, 600),
        (630.2, 19.3, 650),
        (300.0, 0.0, 350),  # clamped low
        (380.0, -60.0, 350),
        (920.0, 60.0, 950),  # clamped high
        (950.0, 0.4, 950),
    ],
)
def test_total_score_rounds_and_clamps(base: float, social: float, score: int) -> None:
    assert total_score(base, social) == score


def test_base_spans_350_to_950() -> None:
    no_prior = dataclasses.replace(HAND, card_prior_strength=1e-12, bill_prior_strength=1e-12)
    best = compute_base([repayment(), repayment("bill_payment"), purchase("1e12")], FULL_PROFILE, no_prior)
    worst = compute_base([repayment(late=None), repayment("bill_payment", late=None)], NO_PROFILE, no_prior)
    assert best.base == pytest.approx(950, abs=1e-6)
    assert worst.base == pytest.approx(350, abs=1e-6)


# --- explanations --------------------------------------------------------------------------


def test_reasons_ordered_by_points_lost() -> None:
    events = [
        repayment(days_ago=0, late=0),
        repayment(days_ago=30, late=35),
        repayment("bill_payment", days_ago=10, late=None),
        repayment("bill_payment", days_ago=10, late=0, paid="25.00"),
        purchase("100.00", days_ago=0),
    ]
    result = compute_base(events, ProfileFacts(email_verified=True, phone=True, city=True), HAND)
    got = reasons(result, HAND)
    assert [(r.code, round(r.points_lost, 4)) for r in got] == [
        (ReasonCode.BILL_PAYMENTS_LATE, 124.6875),  # 210 * (1 - 0.40625)
        (ReasonCode.CARD_REPAYMENTS_LATE, 63.0),  # 210 * (1 - 0.7)
        (ReasonCode.PURCHASES_LOW, 45.0),
        (ReasonCode.PROFILE_INCOMPLETE, 36.0),
    ]
    assert got[-1].text == "Profile incomplete: avatar, bio"
    assert got[-1].hint == "Add an avatar, write a short bio."
    assert "halves every 30 days" in got[0].hint


def test_reasons_for_a_newcomer_and_a_thin_perfect_file() -> None:
    codes = [r.code for r in reasons(compute_base([], FULL_PROFILE, HAND), HAND)]
    assert codes == [
        ReasonCode.CARD_REPAYMENTS_NONE,  # 105 points each; ties keep factor order
        ReasonCode.BILL_PAYMENTS_NONE,
        ReasonCode.PURCHASES_NONE,  # 90
    ]
    thin = reasons(compute_base([repayment()], FULL_PROFILE, HAND), HAND)
    assert thin[0].code == ReasonCode.BILL_PAYMENTS_NONE
    assert thin[2].code == ReasonCode.CARD_REPAYMENTS_FEW
    assert thin[2].text == "Only 1 card repayment on file"


def test_reasons_for_a_stored_breakdown_without_event_counts() -> None:
    def codes(events: list[EventFact]) -> list[str]:
        result = compute_base(events, FULL_PROFILE, HAND)
        stored = dataclasses.replace(result, factors=tuple(dataclasses.replace(f, events=None) for f in result.factors))
        return [r.code for r in reasons(stored, HAND)]

    assert codes([]) == [
        ReasonCode.CARD_REPAYMENTS_NONE,
        ReasonCode.BILL_PAYMENTS_NONE,
        ReasonCode.PURCHASES_NONE,
    ]
    late = codes([repayment(late=None), repayment("bill_payment"), purchase("100.00")])
    assert late[:2] == [ReasonCode.CARD_REPAYMENTS_LATE, ReasonCode.BILL_PAYMENTS_FEW]
    assert late[2] == ReasonCode.PURCHASES_LOW


def test_a_perfect_member_has_no_reasons() -> None:
    events = [repayment(), repayment("bill_payment"), purchase("1e15")]
    strict = dataclasses.replace(HAND, card_prior=1.0, bill_prior=1.0)
    assert reasons(compute_base(events, FULL_PROFILE, strict), strict) == []


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (repayment(late=14, label="Acme"), "Card repayment to Acme 14 days late"),
        (repayment(late=1, label="Acme"), "Card repayment to Acme 1 day late"),
        (repayment(late=-2, label="Acme"), "Card repayment to Acme on time"),
        (repayment(late=None), "Card repayment missed"),
        (
            repayment("bill_payment", late=0, paid="25.00", label="City Power"),
            "Bill payment to City Power on time, 25.00 of 100.00 paid",
        ),
        (repayment("bill_payment", late=3, paid="100.00"), "Bill payment 3 days late"),
        (purchase("120.00", label="Acme"), "Purchase of 120.00 at Acme"),
        (purchase("9.99"), "Purchase of 9.99"),
    ],
)
def test_describe_event(event: EventFact, text: str) -> None:
    assert describe_event(event) == text


# --- properties ------------------------------------------------------------------------------

_KINDS = st.sampled_from(["purchase", "bill_payment", "card_repayment"])
_LATE = st.one_of(st.none(), st.integers(min_value=-10, max_value=200))


@st.composite
def events_strategy(draw: st.DrawFn) -> EventFact:
    kind = draw(_KINDS)
    at = T0 - timedelta(minutes=draw(st.integers(min_value=0, max_value=3 * 365 * 24 * 60)))
    amount = Decimal(draw(st.integers(min_value=0, max_value=500_000))) / 100
    if kind == "purchase":
        return EventFact(kind=kind, occurred_at=at, amount=amount, ref=draw(st.text(max_size=2)))
    late = draw(_LATE)
    due = at.date()
    paid = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=600_000)))
    return EventFact(
        kind=kind,
        occurred_at=at,
        amount=amount,
        due_date=due,
        paid_date=None if late is None else due + timedelta(days=late),
        missed=late is None,
        amount_paid=None if paid is None else Decimal(paid) / 100,
        ref=draw(st.text(max_size=2)),
    )


_EVENT_LISTS = st.lists(events_strategy(), max_size=25)
_PROFILES = st.builds(ProfileFacts, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=200, deadline=None)
@given(events=_EVENT_LISTS, profile=_PROFILES, seed=st.integers())
def test_result_depends_only_on_the_set_of_events(events: list[EventFact], profile: ProfileFacts, seed: int) -> None:
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert compute_base(shuffled, profile) == compute_base(events, profile)
    assert compute_base(reversed(events), profile) == compute_base(iter(events), profile)


@settings(max_examples=100, deadline=None)
@given(events=_EVENT_LISTS, days=st.integers(min_value=-5000, max_value=5000))
def test_shifting_every_date_alike_changes_nothing(events: list[EventFact], days: int) -> None:
    shift = timedelta(days=days)
    moved = [
        dataclasses.replace(
            e,
            occurred_at=e.occurred_at + shift,
            due_date=None if e.due_date is None else e.due_date + shift,
            paid_date=None if e.paid_date is None else e.paid_date + shift,
        )
        for e in events
    ]
    assert compute_base(moved, FULL_PROFILE) == compute_base(events, FULL_PROFILE)


def _repayment_indices(events: list[EventFact]) -> list[int]:
    return [i for i, e in enumerate(events) if e.kind != "purchase"]


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, data=st.data())
def test_paying_later_or_less_never_raises_a_factor(events: list[EventFact], data: st.DataObject) -> None:
    indices = _repayment_indices(events)
    if not indices:
        return
    i = data.draw(st.sampled_from(indices))
    e = events[i]
    worse_kind = data.draw(st.sampled_from(["later", "missed", "less"]))
    if worse_kind == "later":
        extra = timedelta(days=data.draw(st.integers(min_value=1, max_value=200)))
        start = e.paid_date or e.due_date or date(2025, 1, 1)
        worse = dataclasses.replace(e, paid_date=start + extra, due_date=e.due_date or start)
        if e.missed:
            worse = e  # nothing is later than missed
    elif worse_kind == "missed":
        worse = dataclasses.replace(e, missed=True, paid_date=None)
    else:
        paid = e.amount if e.amount_paid is None else e.amount_paid
        less = Decimal(data.draw(st.integers(min_value=0, max_value=100))) / 100
        worse = dataclasses.replace(e, amount_paid=(paid * less).quantize(Decimal("0.01")))
    before = compute_base(events, FULL_PROFILE)
    after = compute_base([*events[:i], worse, *events[i + 1 :]], FULL_PROFILE)
    for b, a in zip(before.factors, after.factors, strict=True):
        assert a.value <= b.value + 1e-12, (worse_kind, b.name)
    assert after.base <= before.base + 1e-9


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, kind=st.sampled_from(["card_repayment", "bill_payment"]))
def test_an_on_time_payment_with_the_latest_never_lowers_its_factor(events: list[EventFact], kind: str) -> None:
    # At the latest event's time the anchor does not move: the factor is a weighted average of
    # the prior and the events, and a quality of 1 can only pull it up. A payment LATER than the
    # others also ages them (next test): that fall is the recency weighting, not the payment.
    at = max((e.occurred_at for e in events if e.kind == kind), default=T0)
    new = EventFact(kind=kind, occurred_at=at, amount=Decimal("10.00"), due_date=at.date(), paid_date=at.date())
    name = CARD_REPAYMENT_TIMELINESS if kind == "card_repayment" else BILL_PAYMENT_TIMELINESS
    before = compute_base(events, FULL_PROFILE).factor(name).value
    after = compute_base([*events, new], FULL_PROFILE).factor(name).value
    assert after >= before - 1e-12


@settings(max_examples=100, deadline=None)
@given(events=_EVENT_LISTS, extra=events_strategy())
def test_other_kinds_never_move_a_timeliness_factor(events: list[EventFact], extra: EventFact) -> None:
    purchase_only = dataclasses.replace(extra, kind="purchase")
    before = compute_base(events, FULL_PROFILE)
    after = compute_base([*events, purchase_only], FULL_PROFILE)
    for name in (CARD_REPAYMENT_TIMELINESS, BILL_PAYMENT_TIMELINESS):
        assert after.factor(name).value == before.factor(name).value


@settings(max_examples=100, deadline=None)
@given(events=_EVENT_LISTS, profile=_PROFILES)
def test_factors_stay_in_range_and_points_add_up(events: list[EventFact], profile: ProfileFacts) -> None:
    result = compute_base(events, profile)
    for f in result.factors:
        assert 0.0 <= f.value <= 1.0
        assert f.points == 600 * f.weight * f.value
    assert result.base == 350 + sum(f.points for f in result.factors)
    assert 350 <= total_score(result.base, 0) <= 950


# --- consistent smoothing: the prior and the events share one set of weights -----------------
# A reversal must never hurt and bad behaviour must never help. With the old count-based
# shrinkage, (strength * prior + n * m) / (strength + n) with m recency-weighted, removing an
# old missed payment lowered the factor (n fell by one, m barely moved); these fail there.

_REPAYMENTS = st.lists(
    events_strategy().map(lambda e: dataclasses.replace(e, kind="card_repayment") if e.kind == "purchase" else e),
    min_size=1,
    max_size=25,
)
_PRIORS = st.floats(min_value=0.0, max_value=1.0)
_STRENGTHS = st.floats(min_value=0.1, max_value=100.0)


@settings(max_examples=300, deadline=None)
@given(events=_REPAYMENTS, prior=_PRIORS, strength=_STRENGTHS, data=st.data())
def test_removing_an_event_below_the_factor_never_lowers_it(
    events: list[EventFact], prior: float, strength: float, data: st.DataObject
) -> None:
    anchor = T0  # no event is later than T0
    before = timeliness(events, anchor, prior, strength)
    assert 0.0 <= before <= 1.0
    i = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
    if event_quality(events[i]) > before:
        return
    after = timeliness([*events[:i], *events[i + 1 :]], anchor, prior, strength)
    assert 0.0 <= after <= 1.0
    assert after >= before - 1e-12


@settings(max_examples=300, deadline=None)
@given(events=_REPAYMENTS, prior=_PRIORS, strength=_STRENGTHS, missed=events_strategy())
def test_adding_a_missed_payment_never_raises_the_factor(
    events: list[EventFact], prior: float, strength: float, missed: EventFact
) -> None:
    anchor = T0
    missed = dataclasses.replace(missed, kind="card_repayment", missed=True, paid_date=None)
    assert event_quality(missed) == 0.0
    before = timeliness(events, anchor, prior, strength)
    after = timeliness([*events, missed], anchor, prior, strength)
    assert 0.0 <= after <= before + 1e-12


def _stream(events: list[EventFact], kind: str) -> tuple[str, datetime]:
    name = CARD_REPAYMENT_TIMELINESS if kind == "card_repayment" else BILL_PAYMENT_TIMELINESS
    return name, max(e.occurred_at for e in events if e.kind == kind)


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, data=st.data())
def test_reversing_an_event_below_the_factor_never_lowers_the_score(
    events: list[EventFact], data: st.DataObject
) -> None:
    # What a dispute does: remove an event that is not the stream's latest (the latest sets the
    # recency anchor; removing it ages nothing, it makes the rest younger).
    indices = _repayment_indices(events)
    if not indices:
        return
    i = data.draw(st.sampled_from(indices))
    name, latest = _stream(events, events[i].kind)
    before = compute_base(events, FULL_PROFILE)
    if events[i].occurred_at == latest or event_quality(events[i]) > before.factor(name).value:
        return
    after = compute_base([*events[:i], *events[i + 1 :]], FULL_PROFILE)
    assert after.factor(name).value >= before.factor(name).value - 1e-12
    assert after.base >= before.base - 1e-9


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, kind=st.sampled_from(["card_repayment", "bill_payment"]), data=st.data())
def test_a_missed_payment_up_to_the_latest_never_raises_the_score(
    events: list[EventFact], kind: str, data: st.DataObject
) -> None:
    if not any(e.kind == kind for e in events):
        return
    name, latest = _stream(events, kind)
    at = latest - timedelta(minutes=data.draw(st.integers(min_value=0, max_value=3 * 365 * 24 * 60)))
    new = EventFact(kind=kind, occurred_at=at, amount=Decimal("10.00"), due_date=at.date(), missed=True)
    before = compute_base(events, FULL_PROFILE)
    after = compute_base([*events, new], FULL_PROFILE)
    assert after.factor(name).value <= before.factor(name).value + 1e-12
    assert after.base <= before.base + 1e-9


def test_reversing_an_old_missed_payment_raises_a_good_payers_factor() -> None:
    # A year of on-time card repayments and one missed 11 months ago (the dispute scenario).
    on_time = [repayment(days_ago=30 * i, ref=f"ok{i}") for i in range(12)]
    old_miss = repayment(days_ago=330, late=None, ref="miss")

    def card(events: list[EventFact], params: ScoringParams) -> float:
        return compute_base(events, NO_PROFILE, params).factor(CARD_REPAYMENT_TIMELINESS).value

    for params in (PARAMS, dataclasses.replace(PARAMS, card_prior_strength=10.0, timeliness_half_life_days=35.0)):
        assert card(on_time, params) > card([*on_time, old_miss], params)


def test_an_on_time_payment_after_a_long_gap_says_why_the_factor_fell() -> None:
    """Five on-time repayments 400 days ago, then one today: the old ones now weigh 2^(-400/140)
    each against the prior's fixed weight, so the factor falls although the payment was good —
    and the ledger line says why instead of blaming the payment."""
    from scoring.ledger.rows import AGING_NOTE, event_explanation

    old_day = T0 - timedelta(days=400)
    history = [EventFact(kind="card_repayment", occurred_at=old_day, amount=Decimal("10.00"), due_date=old_day.date(),
                         paid_date=old_day.date(), ref=str(i)) for i in range(5)]
    today = EventFact(kind="card_repayment", occurred_at=T0, amount=Decimal("10.00"), due_date=T0.date(),
                      paid_date=T0.date(), label="Acme")
    before = compute_base(history, FULL_PROFILE)
    after = compute_base([*history, today], FULL_PROFILE)
    assert after.factor(CARD_REPAYMENT_TIMELINESS).value < before.factor(CARD_REPAYMENT_TIMELINESS).value
    delta = total_score(after.base, 0) - total_score(before.base, 0)
    assert delta < 0
    assert event_explanation(today, delta) == f"Card repayment to Acme on time: −{-delta}{AGING_NOTE}"
    assert event_explanation(today, 3) == "Card repayment to Acme on time: +3"
