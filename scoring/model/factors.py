"""The base score: four factors in [0, 1], their points, and the score and band (DESIGN §3).

Pure Python, no Django: the services call it with plain facts, the UCI evaluation replays
30,000 clients through it, and the tests reach every branch without a database.

Each repayment carries its own signed *evidence* (``event_evidence``): paid on time and in
full adds, late subtracts by how late, a part payment subtracts by the share left unpaid. The
evidence of an event decays with its calendar age on the scoring date ``as_of``, and a
timeliness factor is the logistic of its prior's log-odds plus the scaled sum. Because each
event adds its own term and the logistic rises, the rules a member relies on (DESIGN §3) hold
for any history: an on-time payment in full never lowers a factor, a late, missed or partial one
never raises it, paying later never scores better, missed equals 90+ days late. Nothing is a
mean, so no event can "pull up" a factor by being better than the others.

Determinism: the result depends only on the *set* of events and the date ``as_of``. Events are
sorted by (occurred_at, ref, then every other field) before anything is summed and sums use
``math.fsum`` (exactly rounded, so order-free anyway); ages are whole calendar days (UTC) from
the event's day to ``as_of``. The wall clock is never read: the ledger passes the date, stores
it with the score (``ScoreState.as_of``) and writes a row of its own when only time moved the
score (``scoring.ledger.ageing``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from scoring.model.params import PARAMS, ScoringParams

PURCHASE = "purchase"
BILL_PAYMENT = "bill_payment"
CARD_REPAYMENT = "card_repayment"
EVENT_KINDS = (PURCHASE, BILL_PAYMENT, CARD_REPAYMENT)

# Factor names, in the fixed order of ``BaseResult.factors`` (and of the API's breakdown).
CARD_REPAYMENT_TIMELINESS = "card_repayment_timeliness"
BILL_PAYMENT_TIMELINESS = "bill_payment_timeliness"
PURCHASE_VOLUME = "purchase_volume"
PROFILE_COMPLETENESS = "profile_completeness"
FACTOR_NAMES = (
    CARD_REPAYMENT_TIMELINESS,
    BILL_PAYMENT_TIMELINESS,
    PURCHASE_VOLUME,
    PROFILE_COMPLETENESS,
)

PROFILE_FIELDS = ("email_verified", "phone", "city", "avatar", "bio")

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class EventFact:
    """One accepted event, as the model sees it.

    ``amount`` is the purchase amount, or the amount due for a bill or card repayment
    (currency units, >= 0). ``occurred_at`` must be timezone-aware; its day (UTC) is what the
    event's age on the scoring date counts from. Lateness is ``paid_date - due_date`` in days;
    ``missed`` counts as 90+ days late. A repayment with no due date, or with neither a paid date
    nor ``missed``, carries no lateness and counts as on time (ingestion requires ``paid_date``
    or ``missed``).
    ``amount_paid`` (None = paid in full) makes a partial payment's evidence a cost. ``ref`` is
    only a deterministic tie-break, ``label`` only feeds explanations.
    """

    kind: str
    occurred_at: datetime
    amount: Decimal
    due_date: date | None = None
    paid_date: date | None = None
    missed: bool = False
    amount_paid: Decimal | None = None
    ref: str = ""
    label: str = ""


@dataclass(frozen=True)
class ProfileFacts:
    """Which profile fields are filled or verified. Their content is never scored."""

    email_verified: bool = False
    phone: bool = False
    city: bool = False
    avatar: bool = False
    bio: bool = False

    def missing(self) -> tuple[str, ...]:
        """Names of the fields not yet filled, in ``PROFILE_FIELDS`` order."""
        return tuple(name for name in PROFILE_FIELDS if not getattr(self, name))


@dataclass(frozen=True)
class FactorResult:
    """One factor: ``value`` in [0, 1], ``points`` = span * weight * value (score points).

    ``events`` is how many events fed the factor (0 for the profile), for explanations; None
    when unknown (a breakdown rebuilt from stored values), and ``reasons`` then says less.
    ``negative`` is the aged evidence the factor's late, missed or partial payments took away
    (<= 0; 0 for the factors without evidence, None when unknown).
    """

    name: str
    weight: float
    value: float
    points: float
    events: int | None = None
    negative: float | None = None

    def max_points(self, params: ScoringParams = PARAMS) -> float:
        """The points this factor gives at value 1."""
        return params.span * self.weight

    def points_lost(self, params: ScoringParams = PARAMS) -> float:
        """Points short of the factor's maximum (>= 0)."""
        return params.span * self.weight * (1.0 - self.value)


@dataclass(frozen=True)
class BaseResult:
    """``base`` (unrounded points) = score_min + Σ factor points, factors in ``FACTOR_NAMES``
    order. ``missing_profile`` names the empty profile fields, for explanations."""

    base: float
    factors: tuple[FactorResult, ...]
    missing_profile: tuple[str, ...] = ()

    def factor(self, name: str) -> FactorResult:
        """The factor called ``name`` (KeyError if there is none)."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise KeyError(name)


def _sort_key(e: EventFact) -> tuple[object, ...]:
    # (occurred_at, ref) decides; the remaining fields only order exact twins, so the sort is
    # total and the summation order is a function of the set of events.
    return (
        e.occurred_at,
        e.ref,
        e.kind,
        e.amount,
        e.due_date or date.min,
        e.paid_date or date.min,
        e.missed,
        e.amount_paid if e.amount_paid is not None else Decimal(-1),
        e.label,
    )


def days_late(e: EventFact) -> int | None:
    """Days between due date and payment (<= 0: on time); None when missed."""
    if e.missed:
        return None
    if e.due_date is None or e.paid_date is None:
        return 0
    return (e.paid_date - e.due_date).days


def lateness_bucket(late: int | None) -> int:
    """Bucket index of a payment ``late`` days after its due date, into
    ``ScoringParams.lateness_costs()``: 0 on time, 1 for 1-29 days late, 2 for 30-59, 3 for
    60-89, 4 for 90+ (None = missed → 90+)."""
    if late is None or late >= 90:
        return 4
    if late <= 0:
        return 0
    if late < 30:
        return 1
    if late < 60:
        return 2
    return 3


def paid_fraction(e: EventFact) -> float:
    """Share of the amount due that was paid, in [0, 1] (1 when paid in full or nothing due)."""
    if e.amount_paid is None or e.amount <= 0:
        return 1.0
    return min(1.0, max(0.0, float(e.amount_paid / e.amount)))


def amount_share(e: EventFact, params: ScoringParams = PARAMS) -> float:
    """How much of its full weight a payment's evidence carries by its size: the amount due over
    ``amount_full``, at most 1 (0 for nothing due)."""
    if e.amount <= 0:
        return 0.0
    return min(1.0, float(e.amount) / params.amount_full)


def event_evidence(e: EventFact, params: ScoringParams = PARAMS) -> float:
    """Signed evidence of one bill or card repayment, before ageing (units: one on-time payment
    in full of at least ``amount_full`` is ``evidence_on_time``).

    On time and in full: ``+evidence_on_time``. Late or missed: ``−cost`` of its lateness bucket.
    Paid only in part: a further ``−cost_partial · (1 − fraction paid) ** partial_exponent``, and
    never the on-time gain. Either is scaled by the payment's size: a payment of nothing due
    (an idle month) carries ``gain_floor`` of the gain or ``cost_floor`` of the cost, one of
    ``amount_full`` or more carries all of it. So for a given amount the evidence never rises
    with days late or with a smaller payment, and only an on-time payment in full is positive.
    """
    bucket = lateness_bucket(days_late(e))
    fraction = paid_fraction(e)
    size = amount_share(e, params)
    if bucket == 0 and fraction >= 1.0:
        return params.evidence_on_time * (params.gain_floor + (1.0 - params.gain_floor) * size)
    shortfall = 0.0 if fraction >= 1.0 else params.cost_partial * (1.0 - fraction) ** params.partial_exponent
    cost = params.lateness_costs()[bucket] + shortfall
    return -cost * (params.cost_floor + (1.0 - params.cost_floor) * size)


def age_days(e: EventFact, as_of: date) -> int:
    """Whole calendar days (UTC) from the event's day to ``as_of``; 0 for a later event."""
    return max(0, (as_of - e.occurred_at.astimezone(UTC).date()).days)


def age_weight(age: int, half_life_days: float) -> float:
    """2 ** (-age / half-life): what is left of a term ``age`` days old."""
    return 2.0 ** (-age / half_life_days)


def evidence_weight(evidence: float, age: int, params: ScoringParams = PARAMS) -> float:
    """What is left, ``age`` days on, of evidence of this sign: good evidence halves every
    ``positive_half_life_days``; bad evidence is two parts, ``negative_fast_share`` of it
    halving every ``negative_fast_half_life_days`` (a fresh delinquency says most) and the rest
    every ``negative_half_life_days`` (it is remembered for long)."""
    if evidence > 0:
        return age_weight(age, params.positive_half_life_days)
    fast = params.negative_fast_share
    return fast * age_weight(age, params.negative_fast_half_life_days) + (1.0 - fast) * age_weight(
        age, params.negative_half_life_days)


def aged_evidence(e: EventFact, as_of: date, params: ScoringParams = PARAMS) -> float:
    """``event_evidence`` decayed by the event's age on ``as_of`` (``evidence_weight``)."""
    evidence = event_evidence(e, params)
    return evidence * evidence_weight(evidence, age_days(e, as_of), params)


def logistic(x: float) -> float:
    """1 / (1 + e^-x), without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def timeliness_value(evidence: float, prior: float, scale: float) -> float:
    """A timeliness factor from its summed aged evidence: logistic(logit(prior) + scale · evidence).
    No evidence gives the prior; more evidence gives more, less gives less."""
    return logistic(logit(prior) + scale * evidence)


def timeliness(
    events: Sequence[EventFact],
    as_of: date,
    prior: float,
    scale: float,
    params: ScoringParams = PARAMS,
) -> tuple[float, float]:
    """(value, negative evidence) of a timeliness factor over ``events`` on ``as_of``.

    value = logistic(logit(prior) + scale · Σ aged evidence). Each event adds its own term, so
    (all tested): no events gives the prior; adding an on-time payment in full never lowers the
    value and adding a late, missed or partial one never raises it; a later or smaller payment
    never scores higher; removing a bad event never lowers it. Time only shrinks every term
    toward 0: a record untouched for years returns toward the prior, the bad as the good.
    """
    terms = [aged_evidence(e, as_of, params) for e in events]
    negative = math.fsum(t for t in terms if t < 0)
    return timeliness_value(math.fsum(terms), prior, scale), negative


def recent_spend(events: Sequence[EventFact], as_of: date, params: ScoringParams = PARAMS) -> float:
    """Σ amount * age weight over purchases (currency units; negative amounts count 0)."""
    return math.fsum(
        float(max(e.amount, Decimal(0))) * age_weight(age_days(e, as_of), params.purchase_half_life_days)
        for e in events
    )


def purchase_volume(spend: float, params: ScoringParams = PARAMS) -> float:
    """Saturating value in [0, 1) of ``spend``: 0.5 at the half-saturation amount."""
    if spend <= 0.0:
        return 0.0
    return 1.0 / (1.0 + (params.purchase_half_saturation / spend) ** params.purchase_shape)


def profile_completeness(profile: ProfileFacts) -> float:
    """Fraction of the five profile fields filled or verified."""
    return (len(PROFILE_FIELDS) - len(profile.missing())) / len(PROFILE_FIELDS)


def compute_base(
    events: Iterable[EventFact],
    profile: ProfileFacts,
    params: ScoringParams = PARAMS,
    *,
    as_of: date,
) -> BaseResult:
    """The base score on the date ``as_of`` (unrounded points, in [score_min, score_min + span])
    and its factors.

    Precondition: every ``occurred_at`` is timezone-aware. Events of unknown kind are ignored;
    events dated after ``as_of`` count as ``as_of``'s.
    """
    ordered = sorted(events, key=_sort_key)
    by_kind: dict[str, list[EventFact]] = {kind: [] for kind in EVENT_KINDS}
    for e in ordered:
        if e.kind in by_kind:
            by_kind[e.kind].append(e)
    cards, bills, purchases = by_kind[CARD_REPAYMENT], by_kind[BILL_PAYMENT], by_kind[PURCHASE]

    card_value, card_negative = timeliness(cards, as_of, params.card_prior, params.card_evidence_scale, params)
    bill_value, bill_negative = timeliness(bills, as_of, params.bill_prior, params.bill_evidence_scale, params)
    volume = purchase_volume(recent_spend(purchases, as_of, params), params)

    rows = (
        (CARD_REPAYMENT_TIMELINESS, params.weight_card_repayment, card_value, len(cards), card_negative),
        (BILL_PAYMENT_TIMELINESS, params.weight_bill_payment, bill_value, len(bills), bill_negative),
        (PURCHASE_VOLUME, params.weight_purchase_volume, volume, len(purchases), 0.0),
        (PROFILE_COMPLETENESS, params.weight_profile, profile_completeness(profile), 0, 0.0),
    )
    factors = tuple(
        FactorResult(name, weight, value, params.span * weight * value, count, negative)
        for name, weight, value, count, negative in rows
    )
    # A plain left-to-right sum in the fixed factor order, so that
    # score_min + sum(f.points for f in factors) == base holds exactly for callers.
    base = params.score_min + sum(f.points for f in factors)
    return BaseResult(base=base, factors=factors, missing_profile=profile.missing())


def total_score(base: float, social_points: float, params: ScoringParams = PARAMS) -> int:
    """clamp(round(base + social), 350, 950); halves round up (649.5 → 650), not to even."""
    rounded = math.floor(base + social_points + 0.5)
    return int(min(params.score_max, max(params.score_min, rounded)))


def band_bounds(score: int, params: ScoringParams = PARAMS) -> tuple[int, str | None, int | None]:
    """(lowest score of the score's band, next band's name, next band's lowest score)."""
    low = params.score_min
    for lowest, name in params.bands:
        if score >= lowest:
            low = lowest
        else:
            return low, name, lowest
    return low, None, None


def band_for(score: int, params: ScoringParams = PARAMS) -> str:
    """The band label of a score: Building < 550 ≤ Fair < 600 ≤ Good < 650 ≤ Very good < 700."""
    label = params.lowest_band
    for lowest, name in params.bands:
        if score >= lowest:
            label = name
    return label
