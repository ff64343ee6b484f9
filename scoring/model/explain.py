"""Explanations: reason codes for a base score and one-line texts for events (DESIGN §2.2).

Pure Python, no Django. Reason codes are stable strings (clients may key on them); texts and
hints are for people and may be reworded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from scoring.model.factors import (
    BILL_PAYMENT,
    BILL_PAYMENT_TIMELINESS,
    CARD_REPAYMENT,
    CARD_REPAYMENT_TIMELINESS,
    PROFILE_COMPLETENESS,
    PURCHASE,
    PURCHASE_VOLUME,
    BaseResult,
    EventFact,
    FactorResult,
    age_days,
    age_weight,
    days_late,
    event_evidence,
    lateness_bucket,
    paid_fraction,
    purchase_volume,
    recent_spend,
)
from scoring.model.params import PARAMS, ScoringParams


class ReasonCode:
    """Stable reason codes, shared by the code that emits them and the tests that check them."""

    CARD_REPAYMENTS_NONE = "card_repayments_none"
    CARD_REPAYMENTS_FEW = "card_repayments_few"
    CARD_REPAYMENTS_LATE = "card_repayments_late"
    BILL_PAYMENTS_NONE = "bill_payments_none"
    BILL_PAYMENTS_FEW = "bill_payments_few"
    BILL_PAYMENTS_LATE = "bill_payments_late"
    PURCHASES_NONE = "purchases_none"
    PURCHASES_LOW = "purchases_low"
    PROFILE_INCOMPLETE = "profile_incomplete"


#: Reasons worth less than this many points are not listed (they would show as 0).
MIN_REASON_POINTS = 0.5

_PROFILE_HINTS = {
    "email_verified": "verify your email",
    "phone": "add a phone number",
    "city": "add your city",
    "avatar": "add an avatar",
    "bio": "write a short bio",
}


@dataclass(frozen=True)
class Reason:
    """Why a factor is short of its maximum: ``points_lost`` (score points) = what it would
    add at value 1; ``hint`` says what would raise it."""

    code: str
    factor: str
    points_lost: float
    text: str
    hint: str


#: Aged evidence below this (a late, missed or part payment still weighing) gives the "late" reason.
LATE_EVIDENCE = -0.01


def _timeliness_reason(
    factor: FactorResult,
    noun: str,
    codes: tuple[str, str, str],
    prior: float,
    params: ScoringParams,
) -> tuple[str, str, str]:
    none, few, late = codes
    half_life = round(params.negative_half_life_days)
    late_reason = (
        late,
        f"Some {noun}s were late, missed or partly paid",
        f"Pay in full by the due date: each one paid on time adds, and a late one weighs less as it "
        f"ages (its weight halves every {half_life} days).",
    )
    n = factor.events
    if n == 0 or (n is None and abs(factor.value - prior) < 1e-12):
        return (
            none,
            f"No {noun}s on file yet",
            f"Connect a partner that reports your {noun}s: each one paid on time counts.",
        )
    if factor.negative is not None and factor.negative < LATE_EVIDENCE:
        return late_reason
    if factor.negative is None and factor.value < prior:
        return late_reason
    count = f"1 {noun}" if n == 1 else f"{n} {noun}s" if n is not None else f"your {noun}s"
    return (
        few,
        f"Your {noun} record is still building ({count} on file)" if n is not None
        else f"Your {noun} record is still building",
        "Keep paying on time and in full: every payment on time lifts this factor, recent ones most.",
    )


def reasons(result: BaseResult, params: ScoringParams = PARAMS) -> list[Reason]:
    """Reason codes for ``result``, biggest loss first (ties in factor order).

    Only factors that lose at least ``MIN_REASON_POINTS`` points are listed.
    """
    out: list[Reason] = []
    for factor in result.factors:
        lost = factor.points_lost(params)
        if lost < MIN_REASON_POINTS:
            continue
        if factor.name == CARD_REPAYMENT_TIMELINESS:
            code, text, hint = _timeliness_reason(
                factor,
                "card repayment",
                (
                    ReasonCode.CARD_REPAYMENTS_NONE,
                    ReasonCode.CARD_REPAYMENTS_FEW,
                    ReasonCode.CARD_REPAYMENTS_LATE,
                ),
                params.card_prior,
                params,
            )
        elif factor.name == BILL_PAYMENT_TIMELINESS:
            code, text, hint = _timeliness_reason(
                factor,
                "bill payment",
                (
                    ReasonCode.BILL_PAYMENTS_NONE,
                    ReasonCode.BILL_PAYMENTS_FEW,
                    ReasonCode.BILL_PAYMENTS_LATE,
                ),
                params.bill_prior,
                params,
            )
        elif factor.name == PURCHASE_VOLUME:
            hint = (
                f"Purchases with partners raise this factor: about "
                f"{params.purchase_half_saturation:,.0f} of recent spend earns half of its "
                f"{round(factor.max_points(params))} points."
            )
            if factor.events == 0 or (factor.events is None and factor.value == 0.0):
                code, text = ReasonCode.PURCHASES_NONE, "No purchases with partners yet"
            else:
                code, text = ReasonCode.PURCHASES_LOW, "Little recent spending with partners"
        elif factor.name == PROFILE_COMPLETENESS:
            missing = result.missing_profile
            code = ReasonCode.PROFILE_INCOMPLETE
            text = "Profile incomplete: " + ", ".join(f.replace("_", " ") for f in missing)
            steps = [_PROFILE_HINTS[f] for f in missing if f in _PROFILE_HINTS]
            hint = (", ".join(steps) or "complete your profile").capitalize() + "."
        else:  # a factor this module does not know: still explained, generically
            code, text, hint = factor.name, f"{factor.name} below its maximum", ""
        out.append(Reason(code=code, factor=factor.name, points_lost=lost, text=text, hint=hint))
    # sorted() is stable: equal losses keep the fixed factor order.
    return sorted(out, key=lambda r: -r.points_lost)


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def describe_event(e: EventFact) -> str:
    """One line for people, e.g. "Card repayment to Acme 14 days late"."""
    to = f" to {e.label}" if e.label else ""
    if e.kind == PURCHASE:
        at = f" at {e.label}" if e.label else ""
        return f"Purchase of {e.amount}{at}"
    if e.kind in (CARD_REPAYMENT, BILL_PAYMENT):
        noun = "Card repayment" if e.kind == CARD_REPAYMENT else "Bill payment"
        late = days_late(e)
        if late is None:
            return f"{noun}{to} missed"
        when = "on time" if late <= 0 else f"{_days(late)} late"
        text = f"{noun}{to} {when}"
        if paid_fraction(e) < 1.0 and e.amount_paid is not None:
            text += f", {e.amount_paid} of {e.amount} paid"
        return text
    return f"{e.kind.replace('_', ' ').capitalize()} event{to}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def describe_ageing(events: Iterable[EventFact], since: date, as_of: date, params: ScoringParams = PARAMS) -> str:
    """What time changed between the scoring dates ``since`` and ``as_of``, e.g. "Late payments
    of March now count less": the group of events (on-time payments, late or missed ones, part
    payments, purchases; by the month they happened) whose ageing moved the base most."""
    moved: dict[tuple[str, int, int], float] = defaultdict(float)
    purchases: dict[tuple[str, int, int], list[EventFact]] = defaultdict(list)
    facts = list(events)
    scales = {CARD_REPAYMENT: (params.card_evidence_scale, params.weight_card_repayment),
              BILL_PAYMENT: (params.bill_evidence_scale, params.weight_bill_payment)}
    for e in facts:
        year, month = e.occurred_at.year, e.occurred_at.month
        if e.kind in scales:
            evidence = event_evidence(e, params)
            half_life = params.positive_half_life_days if evidence > 0 else params.negative_half_life_days
            faded = evidence * (age_weight(age_days(e, since), half_life) - age_weight(age_days(e, as_of), half_life))
            scale, weight = scales[e.kind]
            # Points through the factor's slope at the middle of the scale: a ranking, not a figure.
            points = abs(faded) * scale * weight * params.span / 4.0
            if evidence > 0:
                label = "On-time payments"
            elif lateness_bucket(days_late(e)) == 0:
                label = "Part payments"
            else:
                label = "Late or missed payments"
            moved[(label, year, month)] += points
        elif e.kind == PURCHASE:
            purchases[("Purchases", year, month)].append(e)
    if purchases:
        everything = [e for e in facts if e.kind == PURCHASE]
        spend = recent_spend(everything, as_of, params)
        for key, group in purchases.items():
            faded = recent_spend(group, since, params) - recent_spend(group, as_of, params)
            moved[key] += abs(purchase_volume(spend + faded, params) - purchase_volume(spend, params)) * (
                params.weight_purchase_volume * params.span)
    if not moved or math.fsum(moved.values()) == 0.0:
        return "Time passed"
    label, year, month = max(sorted(moved), key=lambda key: moved[key])
    when = _MONTHS[month - 1] if year == as_of.year else f"{_MONTHS[month - 1]} {year}"
    return f"{label} of {when} now count less"
