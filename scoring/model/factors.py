"""The base score: four factors in [0, 1], their points, and the score and band (DESIGN §3).

Pure Python, no Django: the services call it with plain facts, the UCI evaluation replays
30,000 clients through it, and the tests reach every branch without a database.

Determinism: the result depends only on the *set* of events. Events are sorted by
(occurred_at, ref, then every other field) before anything is summed, sums use ``math.fsum``
(exactly rounded, so order-free anyway), and recency is measured from the member's own latest
event (``occurred_at``), never from the wall clock: a stored score does not drift as time
passes, only a new event moves it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
    (currency units, >= 0). ``occurred_at`` must be timezone-aware; it places the event in time
    for recency. Lateness is ``paid_date - due_date`` in days; ``missed`` counts as 90+ days
    late. A repayment with no due date, or with neither a paid date nor ``missed``, carries no
    lateness and counts as on time (ingestion requires ``paid_date`` or ``missed``).
    ``amount_paid`` (None = paid in full) lowers the quality of a partial payment. ``ref`` is
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
    """

    name: str
    weight: float
    value: float
    points: float
    events: int | None = None

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
    ``ScoringParams.lateness_qualities()``: 0 on time, 1 for 1-29 days late, 2 for 30-59, 3 for
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


def lateness_quality(late: int | None, params: ScoringParams = PARAMS) -> float:
    """Quality in [0, 1] of a payment ``late`` days after its due date (None = missed)."""
    return params.lateness_qualities()[lateness_bucket(late)]


def paid_fraction(e: EventFact) -> float:
    """Share of the amount due that was paid, in [0, 1] (1 when paid in full or nothing due)."""
    if e.amount_paid is None or e.amount <= 0:
        return 1.0
    return min(1.0, max(0.0, float(e.amount_paid / e.amount)))


def event_quality(e: EventFact, params: ScoringParams = PARAMS) -> float:
    """Quality in [0, 1] of one bill or card repayment: lateness, then partial payment."""
    base = lateness_quality(days_late(e), params)
    fraction = paid_fraction(e)
    if fraction >= 1.0:
        return base
    floor = params.partial_payment_floor
    return base * (floor + (1.0 - floor) * fraction**params.partial_payment_exponent)


def recency_weight(e: EventFact, anchor: datetime, half_life_days: float) -> float:
    """2 ** (-age / half-life), age in days from ``anchor`` (the member's latest event)."""
    age_days = (anchor - e.occurred_at).total_seconds() / _SECONDS_PER_DAY
    return 2.0 ** (-age_days / half_life_days)


def timeliness(
    events: Sequence[EventFact],
    anchor: datetime,
    prior: float,
    prior_strength: float,
    params: ScoringParams = PARAMS,
) -> float:
    """Recency-weighted mean of the prior and the qualities of ``events``, with ONE set of weights.

    value = (strength * prior + Σ wᵢ qᵢ) / (strength + Σ wᵢ), wᵢ = 2 ** (-ageᵢ / half-life)
    the recency weight of event i, age in days before ``anchor`` (``compute_base`` passes the
    stream's own latest event, so that event weighs 1 and the prior is worth ``strength``
    events of that age). Other kinds of events never move this factor. Because the prior and
    the events share the weights, the value is a plain weighted average: an event pulls it
    toward its own quality by its own weight, whatever the other events are. Hence, for a
    fixed ``anchor`` (all tested): no events gives the prior; removing an event of quality
    below the value never lowers it (a reversed missed payment never hurts); adding a missed
    payment never raises it; a later, smaller or missed payment never raises it; the value
    stays in [0, 1]. (The earlier form shrank by the event COUNT n, (strength * prior +
    n * m) / (strength + n), while m was recency-weighted: removing an old missed payment
    dropped n by one but barely moved m, so it could LOWER the value.)

    The weights are relative to ``anchor``: when a new event becomes the stream's latest, the
    older ones weigh less against the prior (their age grows), so after a long gap the file
    becomes "thin" again and the value moves back toward the prior.
    """
    if not events:
        return prior
    weights = [recency_weight(e, anchor, params.timeliness_half_life_days) for e in events]
    qualities = [event_quality(e, params) for e in events]
    weighted = math.fsum(w * q for w, q in zip(weights, qualities, strict=True))
    value = (prior_strength * prior + weighted) / (prior_strength + math.fsum(weights))
    return min(1.0, max(0.0, value))


def recent_spend(events: Sequence[EventFact], anchor: datetime, params: ScoringParams = PARAMS) -> float:
    """Σ amount * recency weight over purchases (currency units; negative amounts count 0)."""
    return math.fsum(
        float(max(e.amount, Decimal(0))) * recency_weight(e, anchor, params.purchase_half_life_days) for e in events
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
) -> BaseResult:
    """The base score (unrounded points, in [score_min, score_min + span]) and its factors.

    Precondition: every ``occurred_at`` is timezone-aware. Events of unknown kind are ignored.
    """
    ordered = sorted(events, key=_sort_key)
    anchor = ordered[-1].occurred_at if ordered else None
    by_kind: dict[str, list[EventFact]] = {kind: [] for kind in EVENT_KINDS}
    for e in ordered:
        if e.kind in by_kind:
            by_kind[e.kind].append(e)
    cards, bills, purchases = by_kind[CARD_REPAYMENT], by_kind[BILL_PAYMENT], by_kind[PURCHASE]

    # Timeliness is measured from each stream's own latest event (it then depends only on the
    # stream's relative ages, never on other kinds of events, and the weights stay far from
    # underflow); purchases age against the member's latest event of any kind, their "now".
    card_value = (
        timeliness(cards, cards[-1].occurred_at, params.card_prior, params.card_prior_strength, params)
        if cards
        else params.card_prior
    )
    bill_value = (
        timeliness(bills, bills[-1].occurred_at, params.bill_prior, params.bill_prior_strength, params)
        if bills
        else params.bill_prior
    )
    volume = (
        purchase_volume(recent_spend(purchases, anchor, params), params) if purchases and anchor is not None else 0.0
    )

    rows = (
        (CARD_REPAYMENT_TIMELINESS, params.weight_card_repayment, card_value, len(cards)),
        (BILL_PAYMENT_TIMELINESS, params.weight_bill_payment, bill_value, len(bills)),
        (PURCHASE_VOLUME, params.weight_purchase_volume, volume, len(purchases)),
        (PROFILE_COMPLETENESS, params.weight_profile, profile_completeness(profile), 0),
    )
    factors = tuple(
        FactorResult(name, weight, value, params.span * weight * value, count) for name, weight, value, count in rows
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
