"""The pure score model: factor arithmetic, bands, thin files, ageing, determinism, and the rules
a member relies on (DESIGN §3), as properties over random histories."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.demo.calibrate import anchors
from scoring.model import (
    PARAMS,
    BaseResult,
    EventFact,
    ProfileFacts,
    ReasonCode,
    ScoringParams,
    band_for,
    compute_base,
    describe_ageing,
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
    aged_evidence,
    event_evidence,
    logistic,
)

# Round constants so the expected values below can be worked out by hand.
HAND = ScoringParams(
    evidence_on_time=1.0,
    cost_late_1_29=1.0,
    cost_late_30_59=2.0,
    cost_late_60_89=3.0,
    cost_late_90_plus=4.0,
    cost_partial=1.0,
    partial_exponent=1.0,
    amount_full=100.0,
    gain_floor=0.5,
    cost_floor=0.5,
    positive_half_life_days=30.0,
    negative_fast_share=0.0,
    negative_fast_half_life_days=15.0,
    negative_half_life_days=60.0,
    card_prior=0.5,
    card_evidence_scale=1.0,
    bill_prior=0.5,
    bill_evidence_scale=0.5,
    purchase_half_life_days=30.0,
    purchase_half_saturation=100.0,
    purchase_shape=1.0,
)
T0 = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
TODAY = T0.date()
NO_PROFILE = ProfileFacts()
FULL_PROFILE = ProfileFacts(email_verified=True, phone=True, city=True, avatar=True, bio=True)


def repayment(
    kind: str = "card_repayment",
    *,
    days_ago: int = 0,
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


def purchase(amount: str, *, days_ago: int = 0, ref: str = "", label: str = "") -> EventFact:
    return EventFact(kind="purchase", occurred_at=T0 - timedelta(days=days_ago), amount=Decimal(amount), ref=ref,
                     label=label)


def values(result: BaseResult) -> dict[str, float]:
    return {f.name: f.value for f in result.factors}


def base(events: list[EventFact], profile: ProfileFacts = FULL_PROFILE, params: ScoringParams = PARAMS) -> float:
    return compute_base(events, profile, params, as_of=TODAY).base


# --- exact factor arithmetic ----------------------------------------------------------------


def test_hand_built_member_exact_factors_and_points() -> None:
    events = [
        repayment(days_ago=0, late=0),  # +1, age 0
        repayment(days_ago=30, late=35),  # 30-59 days late: −2, half-life 60 → −2 · 2^(−1/2)
        repayment("bill_payment", days_ago=10, late=None),  # missed: −4 · 2^(−10/60)
        repayment("bill_payment", days_ago=10, late=0, paid="25.00"),  # 1/4 paid: −(1 · 3/4) · 2^(−10/60)
        purchase("50.00", days_ago=0),  # weight 1
        purchase("100.00", days_ago=30),  # weight 1/2: recent spend 100 = half-saturation
    ]
    result = compute_base(events, ProfileFacts(email_verified=True, phone=True, city=True), HAND, as_of=TODAY)

    card = logistic(0.0 + 1.0 * (1.0 - 2.0 * 2 ** -0.5))
    bill = logistic(0.0 + 0.5 * (-4.75 * 2 ** (-10 / 60)))
    assert [f.name for f in result.factors] == list(FACTOR_NAMES)
    assert values(result) == pytest.approx(
        {CARD_REPAYMENT_TIMELINESS: card, BILL_PAYMENT_TIMELINESS: bill, PURCHASE_VOLUME: 0.5,
         PROFILE_COMPLETENESS: 0.6}, abs=1e-12)
    assert card == pytest.approx(0.397902, abs=1e-6)
    assert bill == pytest.approx(0.107562, abs=1e-6)
    assert [f.events for f in result.factors] == [2, 2, 2, 0]
    assert result.factor(CARD_REPAYMENT_TIMELINESS).negative == pytest.approx(-(2 ** 0.5), abs=1e-12)
    assert result.factor(BILL_PAYMENT_TIMELINESS).negative == pytest.approx(-4.75 * 2 ** (-1 / 6), abs=1e-12)
    assert result.base == 350 + sum(f.points for f in result.factors)  # exactly, as promised
    assert result.base == pytest.approx(350 + 210 * card + 210 * bill + 45 + 54, abs=1e-9)
    assert result.missing_profile == ("avatar", "bio")


@pytest.mark.parametrize(("late", "evidence"), [(-3, 1.0), (0, 1.0), (1, -1.0), (29, -1.0), (30, -2.0), (59, -2.0),
                                                (60, -3.0), (89, -3.0), (90, -4.0), (400, -4.0), (None, -4.0)])
def test_evidence_by_lateness(late: int | None, evidence: float) -> None:
    assert event_evidence(repayment(late=late), HAND) == evidence


@pytest.mark.parametrize(("late", "paid", "evidence"), [
    (0, None, 1.0), (0, "100.00", 1.0), (0, "150.00", 1.0),  # in full (or more): the on-time gain
    (0, "50.00", -0.5), (0, "0.00", -1.0), (0, "99.99", -0.0001),  # part: never a gain, less paid costs more
    (45, "50.00", -2.5),  # late and part: both costs
])
def test_evidence_of_part_payments(late: int, paid: str | None, evidence: float) -> None:
    assert event_evidence(repayment("bill_payment", late=late, paid=paid), HAND) == pytest.approx(evidence, abs=1e-12)


@pytest.mark.parametrize(("late", "amount", "evidence"), [
    (0, "100.00", 1.0), (0, "250.00", 1.0), (0, "50.00", 0.75), (0, "0.00", 0.5),  # gain: 0.5 + 0.5 · share
    (45, "100.00", -2.0), (45, "50.00", -1.5), (45, "0.00", -1.0), (None, "20.00", -2.4),  # cost likewise
])
def test_evidence_scales_with_the_amount_due(late: int | None, amount: str, evidence: float) -> None:
    assert event_evidence(repayment(late=late, amount=amount), HAND) == pytest.approx(evidence, abs=1e-12)


def test_bad_evidence_fades_in_two_parts() -> None:
    two_speed = dataclasses.replace(HAND, negative_fast_share=0.75, negative_fast_half_life_days=15.0,
                                    negative_half_life_days=60.0)
    missed = repayment(days_ago=30, late=None)
    assert aged_evidence(missed, TODAY, two_speed) == pytest.approx(-4 * (0.75 * 0.25 + 0.25 * 2 ** -0.5), abs=1e-12)
    assert aged_evidence(repayment(days_ago=30), TODAY, two_speed) == 0.5  # good evidence: its own half-life


def test_purchase_volume_saturates_ages_and_ignores_refunds() -> None:
    def volume(*events: EventFact) -> float:
        return compute_base(list(events), NO_PROFILE, HAND, as_of=TODAY).factor(PURCHASE_VOLUME).value

    assert volume() == 0.0
    assert volume(purchase("100.00")) == 0.5
    assert volume(purchase("300.00")) == 0.75
    assert volume(purchase("300.00"), purchase("-500.00", ref="r")) == 0.75
    assert volume(purchase("200.00", days_ago=30)) == 0.5  # a month old: half of it
    assert volume(purchase("1000000.00")) == pytest.approx(1.0, abs=1e-3)


def test_events_age_against_the_calendar_not_the_latest_event() -> None:
    old = [purchase("200.00", days_ago=30, ref="p"), repayment(days_ago=30, late=None, ref="m")]
    today = compute_base(old, NO_PROFILE, HAND, as_of=TODAY)
    later = compute_base(old, NO_PROFILE, HAND, as_of=TODAY + timedelta(days=60))
    assert today.factor(PURCHASE_VOLUME).value == 0.5
    assert later.factor(PURCHASE_VOLUME).value == pytest.approx(0.2, abs=1e-12)  # 90 days old: 200 / 8 = 25
    assert later.factor(CARD_REPAYMENT_TIMELINESS).value == pytest.approx(logistic(-4 * 2 ** -1.5), abs=1e-12)
    # Adding an event of another kind or of today changes nothing about the others' ages.
    with_new = compute_base([*old, repayment("bill_payment", ref="b")], NO_PROFILE, HAND, as_of=TODAY)
    assert with_new.factor(PURCHASE_VOLUME).value == today.factor(PURCHASE_VOLUME).value
    assert with_new.factor(CARD_REPAYMENT_TIMELINESS).value == today.factor(CARD_REPAYMENT_TIMELINESS).value
    # Events dated after the scoring date count as the scoring date's.
    assert base([repayment(days_ago=-5)]) == base([repayment(days_ago=0)])


def test_a_record_left_alone_for_decades_returns_to_the_priors() -> None:
    record = [repayment(days_ago=30 * i, late=None if i % 3 else 0, ref=str(i)) for i in range(12)]
    result = compute_base([*record, purchase("500.00")], NO_PROFILE, as_of=TODAY + timedelta(days=365 * 60))
    assert values(result) == pytest.approx({CARD_REPAYMENT_TIMELINESS: PARAMS.card_prior,
                                            BILL_PAYMENT_TIMELINESS: PARAMS.bill_prior,
                                            PURCHASE_VOLUME: 0.0, PROFILE_COMPLETENESS: 0.0}, abs=1e-5)


# --- the scale ---------------------------------------------------------------------------------


def test_no_events_gives_the_priors_and_a_newcomer_starts_in_fair() -> None:
    result = compute_base([], NO_PROFILE, as_of=TODAY)
    assert values(result) == pytest.approx({
        CARD_REPAYMENT_TIMELINESS: PARAMS.card_prior,
        BILL_PAYMENT_TIMELINESS: PARAMS.bill_prior,
        PURCHASE_VOLUME: 0.0,
        PROFILE_COMPLETENESS: 0.0,
    }, abs=1e-15)
    assert result.base == pytest.approx(350 + 600 * 0.35 * PARAMS.card_prior + 600 * 0.35 * PARAMS.bill_prior,
                                        abs=1e-9)
    assert band_for(total_score(result.base, 0)) == "Fair"
    with_email = compute_base([], ProfileFacts(email_verified=True), as_of=TODAY)
    assert band_for(total_score(with_email.base, 0)) == "Fair"


def test_a_long_spotless_record_reaches_850_and_a_missed_one_sits_in_building() -> None:
    model = anchors(PARAMS)
    assert total_score(model["spotless"], 0) >= 850
    assert band_for(total_score(model["missed"], 0)) == "Building"
    assert band_for(total_score(model["newcomer"], 0)) == "Fair"


@pytest.mark.parametrize(
    ("score", "band"),
    [(350, "Building"), (549, "Building"), (550, "Fair"), (599, "Fair"), (600, "Good"), (649, "Good"),
     (650, "Very good"), (699, "Very good"), (700, "Excellent"), (950, "Excellent")],
)
def test_band_boundaries(score: int, band: str) -> None:
    assert band_for(score) == band


@pytest.mark.parametrize(
    ("base_points", "social", "score"),
    [(649.5, 0.0, 650), (649.49, 0.0, 649), (600.0, -0.5, 600), (630.2, 19.3, 650), (300.0, 0.0, 350),
     (380.0, -60.0, 350), (920.0, 60.0, 950), (950.0, 0.4, 950)],
)
def test_total_score_rounds_and_clamps(base_points: float, social: float, score: int) -> None:
    assert total_score(base_points, social) == score


def test_base_spans_350_to_950() -> None:
    steep = dataclasses.replace(HAND, card_evidence_scale=100.0, bill_evidence_scale=100.0)
    best = base([repayment(), repayment("bill_payment"), purchase("1e12")], FULL_PROFILE, steep)
    worst = base([repayment(late=None), repayment("bill_payment", late=None)], NO_PROFILE, steep)
    assert best == pytest.approx(950, abs=1e-6)
    assert worst == pytest.approx(350, abs=1e-6)


# --- explanations --------------------------------------------------------------------------


def test_reasons_ordered_by_points_lost() -> None:
    events = [
        repayment(days_ago=0, late=0),
        repayment(days_ago=30, late=35),
        repayment("bill_payment", days_ago=10, late=None),
        repayment("bill_payment", days_ago=10, late=0, paid="25.00"),
        purchase("100.00", days_ago=0),
    ]
    result = compute_base(events, ProfileFacts(email_verified=True, phone=True, city=True), HAND, as_of=TODAY)
    got = reasons(result, HAND)
    card, bill = result.factor(CARD_REPAYMENT_TIMELINESS).value, result.factor(BILL_PAYMENT_TIMELINESS).value
    assert [(r.code, round(r.points_lost, 4)) for r in got] == [
        (ReasonCode.BILL_PAYMENTS_LATE, round(210 * (1 - bill), 4)),
        (ReasonCode.CARD_REPAYMENTS_LATE, round(210 * (1 - card), 4)),
        (ReasonCode.PURCHASES_LOW, 45.0),
        (ReasonCode.PROFILE_INCOMPLETE, 36.0),
    ]
    assert got[-1].text == "Profile incomplete: avatar, bio"
    assert got[-1].hint == "Add an avatar, write a short bio."
    assert "halves every 60 days" in got[0].hint


def test_reasons_for_a_newcomer_and_a_thin_perfect_file() -> None:
    codes = [r.code for r in reasons(compute_base([], FULL_PROFILE, HAND, as_of=TODAY), HAND)]
    assert codes == [ReasonCode.CARD_REPAYMENTS_NONE, ReasonCode.BILL_PAYMENTS_NONE, ReasonCode.PURCHASES_NONE]
    thin = reasons(compute_base([repayment()], FULL_PROFILE, HAND, as_of=TODAY), HAND)
    assert [r.code for r in thin] == [ReasonCode.BILL_PAYMENTS_NONE, ReasonCode.PURCHASES_NONE,
                                      ReasonCode.CARD_REPAYMENTS_FEW]
    assert thin[2].text == "Your card repayment record is still building (1 card repayment on file)"


def test_reasons_for_a_stored_breakdown_without_event_counts() -> None:
    def codes(events: list[EventFact]) -> list[str]:
        result = compute_base(events, FULL_PROFILE, HAND, as_of=TODAY)
        stored = dataclasses.replace(result, factors=tuple(dataclasses.replace(f, events=None, negative=None)
                                                           for f in result.factors))
        return [r.code for r in reasons(stored, HAND)]

    assert codes([]) == [ReasonCode.CARD_REPAYMENTS_NONE, ReasonCode.BILL_PAYMENTS_NONE, ReasonCode.PURCHASES_NONE]
    late = codes([repayment(late=None), repayment("bill_payment"), purchase("100.00")])
    assert late == [ReasonCode.CARD_REPAYMENTS_LATE, ReasonCode.BILL_PAYMENTS_FEW, ReasonCode.PURCHASES_LOW]


def test_a_late_payment_long_outweighed_still_gives_the_late_reason() -> None:
    events = [*(repayment(days_ago=30 * i, ref=str(i)) for i in range(12)), repayment(days_ago=40, late=45, ref="l")]
    result = compute_base(events, FULL_PROFILE, HAND, as_of=TODAY)
    assert result.factor(CARD_REPAYMENT_TIMELINESS).value > HAND.card_prior
    assert reasons(result, HAND)[-1].code == ReasonCode.CARD_REPAYMENTS_LATE


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (repayment(late=14, label="Acme"), "Card repayment to Acme 14 days late"),
        (repayment(late=1, label="Acme"), "Card repayment to Acme 1 day late"),
        (repayment(late=-2, label="Acme"), "Card repayment to Acme on time"),
        (repayment(late=None), "Card repayment missed"),
        (repayment("bill_payment", late=0, paid="25.00", label="City Power"),
         "Bill payment to City Power on time, 25.00 of 100.00 paid"),
        (repayment("bill_payment", late=3, paid="100.00"), "Bill payment 3 days late"),
        (purchase("120.00", label="Acme"), "Purchase of 120.00 at Acme"),
        (purchase("9.99"), "Purchase of 9.99"),
    ],
)
def test_describe_event(event: EventFact, text: str) -> None:
    assert describe_event(event) == text


def test_describe_ageing_names_the_group_that_moved_most() -> None:
    march_late = repayment(days_ago=0, late=None, ref="m")  # 31 March 2025, missed
    old_on_time = [repayment(days_ago=380 + i, ref=str(i)) for i in range(3)]  # March 2024
    later = TODAY + timedelta(days=30)
    assert describe_ageing([march_late, *old_on_time], TODAY, later, HAND) == (
        "Late or missed payments of March now count less")
    assert describe_ageing(old_on_time, TODAY, later, HAND) == "On-time payments of March 2024 now count less"
    assert describe_ageing([purchase("500.00")], TODAY, later, HAND) == "Purchases of March now count less"
    assert describe_ageing([repayment("bill_payment", paid="10.00")], TODAY, later, HAND) == (
        "Part payments of March now count less")
    assert describe_ageing([], TODAY, later, HAND) == "Time passed"


# --- the rules a member relies on, on random histories (DESIGN §3) ------------------------------

_KINDS = st.sampled_from(["purchase", "bill_payment", "card_repayment"])
_LATE = st.one_of(st.none(), st.integers(min_value=-10, max_value=200))


@st.composite
def events_strategy(draw: st.DrawFn, kinds: st.SearchStrategy[str] = _KINDS) -> EventFact:
    kind = draw(kinds)
    at = T0 - timedelta(minutes=draw(st.integers(min_value=0, max_value=3 * 365 * 24 * 60)))
    amount = Decimal(draw(st.integers(min_value=0, max_value=500_000))) / 100
    if kind == "purchase":
        return EventFact(kind=kind, occurred_at=at, amount=amount, ref=draw(st.text(max_size=2)))
    late = draw(_LATE)
    due = at.date()
    paid = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=600_000)))
    return EventFact(
        kind=kind, occurred_at=at, amount=amount, due_date=due,
        paid_date=None if late is None else due + timedelta(days=late), missed=late is None,
        amount_paid=None if paid is None else Decimal(paid) / 100, ref=draw(st.text(max_size=2)),
    )


_PAYMENT_KINDS = st.sampled_from(["bill_payment", "card_repayment"])
_EVENT_LISTS = st.lists(events_strategy(), max_size=25)
_PROFILES = st.builds(ProfileFacts, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
_AS_OF = st.integers(min_value=0, max_value=3 * 365).map(lambda days: TODAY + timedelta(days=days))
#: The fitted constants and hand-made ones: the rules must hold for any constants in the ranges.
_PARAMS = st.sampled_from([PARAMS, HAND])


def _is_good(e: EventFact) -> bool:
    return event_evidence(e) > 0


def _on_time_in_full(kind: str, at: datetime, amount: Decimal) -> EventFact:
    return EventFact(kind=kind, occurred_at=at, amount=amount, due_date=at.date(), paid_date=at.date(), ref="new")


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, kind=_PAYMENT_KINDS, days_ago=st.integers(0, 3 * 365), as_of=_AS_OF, params=_PARAMS)
def test_adding_an_on_time_payment_never_lowers_the_score(events: list[EventFact], kind: str, days_ago: int,
                                                          as_of: object, params: ScoringParams) -> None:
    new = _on_time_in_full(kind, T0 - timedelta(days=days_ago), Decimal("10.00"))
    before = compute_base(events, FULL_PROFILE, params, as_of=as_of)  # type: ignore[arg-type]
    after = compute_base([*events, new], FULL_PROFILE, params, as_of=as_of)  # type: ignore[arg-type]
    assert after.base >= before.base
    for b, a in zip(before.factors, after.factors, strict=True):
        assert a.value >= b.value, b.name


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, bad=events_strategy(_PAYMENT_KINDS), as_of=_AS_OF, params=_PARAMS)
def test_adding_a_late_missed_or_partial_payment_never_raises_the_score(
        events: list[EventFact], bad: EventFact, as_of: object, params: ScoringParams) -> None:
    if _is_good(bad):
        bad = dataclasses.replace(bad, missed=True, paid_date=None)
    before = compute_base(events, FULL_PROFILE, params, as_of=as_of)  # type: ignore[arg-type]
    after = compute_base([*events, bad], FULL_PROFILE, params, as_of=as_of)  # type: ignore[arg-type]
    assert after.base <= before.base
    for b, a in zip(before.factors, after.factors, strict=True):
        assert a.value <= b.value, b.name


@settings(max_examples=300, deadline=None)
@given(events=_EVENT_LISTS, e=events_strategy(_PAYMENT_KINDS), extra=st.integers(1, 200), as_of=_AS_OF,
       params=_PARAMS)
def test_a_later_payment_never_scores_higher_than_an_earlier_one(
        events: list[EventFact], e: EventFact, extra: int, as_of: object, params: ScoringParams) -> None:
    if e.missed:
        e = dataclasses.replace(e, missed=False, paid_date=e.due_date)
    assert e.paid_date is not None
    later = dataclasses.replace(e, paid_date=e.paid_date + timedelta(days=extra))
    earlier_base = compute_base([*events, e], FULL_PROFILE, params, as_of=as_of).base  # type: ignore[arg-type]
    later_base = compute_base([*events, later], FULL_PROFILE, params, as_of=as_of).base  # type: ignore[arg-type]
    assert later_base <= earlier_base


@settings(max_examples=200, deadline=None)
@given(events=_EVENT_LISTS, e=events_strategy(_PAYMENT_KINDS), late=st.integers(90, 2000), as_of=_AS_OF,
       params=_PARAMS)
def test_missed_is_never_better_than_90_days_late(events: list[EventFact], e: EventFact, late: int, as_of: object,
                                                  params: ScoringParams) -> None:
    assert e.due_date is not None
    missed = dataclasses.replace(e, missed=True, paid_date=None)
    very_late = dataclasses.replace(e, missed=False, paid_date=e.due_date + timedelta(days=late))
    assert (compute_base([*events, missed], FULL_PROFILE, params, as_of=as_of).base  # type: ignore[arg-type]
            <= compute_base([*events, very_late], FULL_PROFILE, params, as_of=as_of).base)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(events=_EVENT_LISTS, e=events_strategy(_PAYMENT_KINDS), share=st.integers(0, 99), as_of=_AS_OF)
def test_paying_less_never_scores_higher(events: list[EventFact], e: EventFact, share: int, as_of: object) -> None:
    paid = e.amount if e.amount_paid is None else min(e.amount_paid, e.amount)
    less = dataclasses.replace(e, amount_paid=(paid * share / 100).quantize(Decimal("0.01")))
    assert (compute_base([*events, less], FULL_PROFILE, as_of=as_of).base  # type: ignore[arg-type]
            <= compute_base([*events, e], FULL_PROFILE, as_of=as_of).base)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(events=_EVENT_LISTS, extra=events_strategy(), as_of=_AS_OF)
def test_other_kinds_never_move_a_timeliness_factor(events: list[EventFact], extra: EventFact, as_of: object) -> None:
    purchase_only = dataclasses.replace(extra, kind="purchase")
    before = compute_base(events, FULL_PROFILE, as_of=as_of)  # type: ignore[arg-type]
    after = compute_base([*events, purchase_only], FULL_PROFILE, as_of=as_of)  # type: ignore[arg-type]
    for name in (CARD_REPAYMENT_TIMELINESS, BILL_PAYMENT_TIMELINESS):
        assert after.factor(name).value == before.factor(name).value


@settings(max_examples=200, deadline=None)
@given(events=_EVENT_LISTS, profile=_PROFILES, seed=st.integers(), as_of=_AS_OF)
def test_result_depends_only_on_the_set_of_events_and_the_date(events: list[EventFact], profile: ProfileFacts,
                                                              seed: int, as_of: object) -> None:
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert compute_base(shuffled, profile, as_of=as_of) == compute_base(events, profile, as_of=as_of)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(events=_EVENT_LISTS, days=st.integers(min_value=-5000, max_value=5000), as_of=_AS_OF)
def test_shifting_every_date_and_the_scoring_date_alike_changes_nothing(events: list[EventFact], days: int,
                                                                        as_of: object) -> None:
    shift = timedelta(days=days)
    moved = [
        dataclasses.replace(
            e, occurred_at=e.occurred_at + shift,
            due_date=None if e.due_date is None else e.due_date + shift,
            paid_date=None if e.paid_date is None else e.paid_date + shift,
        )
        for e in events
    ]
    assert (compute_base(moved, FULL_PROFILE, as_of=as_of + shift)  # type: ignore[operator]
            == compute_base(events, FULL_PROFILE, as_of=as_of))  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(events=_EVENT_LISTS, profile=_PROFILES, as_of=_AS_OF)
def test_factors_stay_in_range_and_points_add_up(events: list[EventFact], profile: ProfileFacts,
                                                 as_of: object) -> None:
    result = compute_base(events, profile, as_of=as_of)  # type: ignore[arg-type]
    for f in result.factors:
        assert 0.0 <= f.value <= 1.0
        assert f.points == 600 * f.weight * f.value
        assert f.negative is not None and f.negative <= 0.0
    assert result.base == 350 + sum(f.points for f in result.factors)
    assert 350 <= total_score(result.base, 0) <= 950


@settings(max_examples=200, deadline=None)
@given(events=st.lists(events_strategy(_PAYMENT_KINDS), min_size=1, max_size=25), data=st.data())
def test_reversing_a_bad_event_never_lowers_the_score(events: list[EventFact], data: st.DataObject) -> None:
    """What a dispute upheld does: remove a late, missed or partial payment."""
    bad = [i for i, e in enumerate(events) if not _is_good(e)]
    if not bad:
        return
    i = data.draw(st.sampled_from(bad))
    assert base([*events[:i], *events[i + 1:]]) >= base(events)


def test_time_forgives_a_missed_payment_and_fades_a_good_record() -> None:
    def scores(history: list[EventFact]) -> list[int]:
        return [total_score(compute_base(history, FULL_PROFILE, as_of=TODAY + timedelta(days=d)).base, 0)
                for d in (0, 90, 180, 365, 3650)]

    missed = scores([repayment(late=None), repayment("bill_payment", late=None)])
    spotless = scores([repayment(days_ago=30 * i, ref=str(i)) for i in range(12)])
    newcomer = total_score(compute_base([], FULL_PROFILE, as_of=TODAY).base, 0)
    assert missed == sorted(missed) and missed[0] < missed[-1] <= newcomer
    assert spotless == sorted(spotless, reverse=True) and spotless[0] > spotless[-1] >= newcomer


def test_the_fitted_constants_keep_the_costs_ordered() -> None:
    costs = PARAMS.lateness_costs()
    assert costs[0] == 0.0
    assert list(costs) == sorted(costs)
    assert costs[1] > 0.0 and PARAMS.cost_partial >= 0.0
    assert PARAMS.evidence_on_time > 0.0
    assert all(0.0 < p < 1.0 for p in (PARAMS.card_prior, PARAMS.bill_prior))
    assert math.isfinite(PARAMS.positive_half_life_days) and math.isfinite(PARAMS.negative_half_life_days)
