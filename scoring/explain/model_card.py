"""What the "How the score works" page and ``GET /api/v1/score/model/`` say.

Two sources, nothing else: the model's constants (``scoring.model.params.PARAMS``), read live so
the page can never describe another model than the one that scores, and the figures measured on
the UCI data set (default rates, points to double the odds, fairness), committed as
``published.json`` next to this module by ``manage.py evaluate_scoring --publish``. A test
recomputes that file from the data and the current model, so it cannot go stale unnoticed.

The worked examples run the real model (``compute_base``) on made-up histories of monthly
payments, scored on the day of the latest due date.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from scoring.model import BILL_PAYMENT, CARD_REPAYMENT, EventFact, ProfileFacts, compute_base
from scoring.model.factors import PROFILE_FIELDS
from scoring.model.params import PARAMS, ScoringParams

#: The committed figures (``manage.py evaluate_scoring --publish`` writes it).
PUBLISHED_PATH = Path(__file__).with_name("published.json")

#: The day the worked examples are scored on; any date gives the same points (ages are relative).
_EXAMPLE_DAY = date(2026, 1, 15)
#: The amount due of every example payment (EUR): at least ``amount_full``, so each counts fully.
_EXAMPLE_AMOUNT = Decimal(max(300, math.ceil(PARAMS.amount_full / 100) * 100))
_MONTH_DAYS = 30


@cache
def _published_text() -> str:
    # Read once per process: the file only changes with a deploy.
    return PUBLISHED_PATH.read_text()


def published() -> dict[str, Any]:
    """The committed figures, a fresh copy per call (callers may decorate it)."""
    data: dict[str, Any] = json.loads(_published_text())
    return data


def _payment(kind: str, months_ago: int, days_late: int | None, paid_share: str | None = None) -> EventFact:
    """A payment of ``_EXAMPLE_AMOUNT`` due ``months_ago`` months before the example day; ``days_late``
    None means missed; ``paid_share`` (e.g. "0.5") makes it partial."""
    due = _EXAMPLE_DAY - timedelta(days=_MONTH_DAYS * months_ago)
    return EventFact(
        kind=kind,
        occurred_at=datetime.combine(due, time(12), tzinfo=UTC),
        amount=_EXAMPLE_AMOUNT,
        due_date=due,
        paid_date=None if days_late is None else due + timedelta(days=days_late),
        missed=days_late is None,
        amount_paid=None if paid_share is None else _EXAMPLE_AMOUNT * Decimal(paid_share),
        ref=f"example-{kind}-{months_ago}",
    )


def _card_points(events: list[EventFact]) -> float:
    result = compute_base(events, ProfileFacts(), as_of=_EXAMPLE_DAY)
    return round(result.factor("card_repayment_timeliness").points, 1)


def example_amount() -> int:
    """The amount due (EUR) of every payment of ``worked_examples``."""
    return int(_EXAMPLE_AMOUNT)


def worked_examples() -> list[dict[str, Any]]:
    """Card-repayment points of a few histories of monthly repayments of ``example_amount`` EUR
    (the bill factor moves the same way, with its own constants): each row ``{history, points}``."""
    year = [_payment(CARD_REPAYMENT, m, 0) for m in range(12)]
    latest_late = [_payment(CARD_REPAYMENT, 0, 45), *year[1:]]
    old_late = [*year[:11], _payment(CARD_REPAYMENT, 11, 45)]
    latest_partial = [_payment(CARD_REPAYMENT, 0, 0, "0.5"), *year[1:]]
    latest_missed = [_payment(CARD_REPAYMENT, 0, None), *year[1:]]
    rows = [
        ("No repayments yet", []),
        ("One repayment on time", year[:1]),
        ("Six monthly repayments on time", year[:6]),
        ("Twelve monthly repayments on time", year),
        ("Twelve, the oldest 45 days late", old_late),
        ("Twelve, the latest half paid", latest_partial),
        ("Twelve, the latest 45 days late", latest_late),
        ("Twelve, the latest missed", latest_missed),
        ("Twelve missed", [_payment(CARD_REPAYMENT, m, None) for m in range(12)]),
    ]
    return [{"history": label, "points": _card_points(events)} for label, events in rows]


def _timeliness_text(kind: str, prior: float, scale: float, params: ScoringParams) -> list[str]:
    noun = "repayment" if kind == CARD_REPAYMENT else "payment"
    return [
        f"Each {noun} made on time and in full adds {params.evidence_on_time:g} unit of evidence when "
        f"{params.amount_full:,.0f} EUR or more was due; a smaller one adds less, in proportion to the "
        f"amount (a month with nothing due adds {100 * params.gain_floor:.0f} % of a unit).",
        f"A late one takes units away: {params.cost_late_1_29:g} if 1–29 days late, "
        f"{params.cost_late_30_59:g} if 30–59, {params.cost_late_60_89:g} if 60–89, "
        f"{params.cost_late_90_plus:g} if 90 days or more late or missed (less for a small amount, "
        f"down to {100 * params.cost_floor:.0f} % of that when nothing was due).",
        f"Paying only part of what is due earns no gain and takes away up to {params.cost_partial:g} "
        "more (the less you pay, the more it takes).",
        f"Evidence fades with time: good evidence halves every {params.positive_half_life_days:,g} days. "
        f"Of bad evidence, {100 * params.negative_fast_share:.0f} % fades fast (it halves every "
        f"{params.negative_fast_half_life_days:,g} days) and the rest halves every "
        f"{params.negative_half_life_days:,g} days: a late payment weighs most while it is recent.",
        f"With no {noun}s the factor sits at {100 * prior:.0f} % of its points; the evidence moves it "
        f"up or down on a smooth curve (each unit of evidence counts {scale:g} on the log-odds scale), "
        "so it approaches but never reaches 0 or the maximum.",
    ]


def factors(params: ScoringParams = PARAMS) -> list[dict[str, Any]]:
    """The four factors: name, label, weight, maximum points and what moves each."""
    profile_points = params.span * params.weight_profile
    return [
        {
            "name": "card_repayment_timeliness",
            "label": "Card repayments on time",
            "weight": params.weight_card_repayment,
            "max_points": round(params.span * params.weight_card_repayment, 1),
            "moves": _timeliness_text(CARD_REPAYMENT, params.card_prior, params.card_evidence_scale, params),
        },
        {
            "name": "bill_payment_timeliness",
            "label": "Bills paid on time",
            "weight": params.weight_bill_payment,
            "max_points": round(params.span * params.weight_bill_payment, 1),
            "moves": _timeliness_text(BILL_PAYMENT, params.bill_prior, params.bill_evidence_scale, params),
        },
        {
            "name": "purchase_volume",
            "label": "Purchase volume",
            "weight": params.weight_purchase_volume,
            "max_points": round(params.span * params.weight_purchase_volume, 1),
            "moves": [
                "What you spent recently, whatever you bought: each purchase counts fully at first "
                f"and half after {params.purchase_half_life_days:g} days.",
                f"Recent spending of {params.purchase_half_saturation:,.0f} EUR earns half of the points; "
                "more spending earns more, ever more slowly, never the full amount.",
                "Spending never counts against you.",
            ],
        },
        {
            "name": "profile_completeness",
            "label": "Profile completeness",
            "weight": params.weight_profile,
            "max_points": round(profile_points, 1),
            "moves": [
                f"{len(PROFILE_FIELDS)} things, {profile_points / len(PROFILE_FIELDS):g} points each: a verified "
                "email, a phone number, a city, a profile photo and a short bio.",
                "Only whether they are there counts, never what they say.",
            ],
        },
    ]


def bands(params: ScoringParams = PARAMS) -> list[dict[str, Any]]:
    """The bands, lowest first: ``{label, low, high}`` (inclusive)."""
    lows = [params.score_min, *(lowest for lowest, _ in params.bands)]
    highs = [*(lowest - 1 for lowest, _ in params.bands), params.score_max]
    names = [params.lowest_band, *(name for _, name in params.bands)]
    return [{"label": n, "low": lo, "high": hi} for n, lo, hi in zip(names, lows, highs, strict=True)]


FAIRNESS_EXPLANATION = (
    "The score never reads sex, age, education or marital status, and Credo never stores them. "
    "The data set the model is checked on does record them, so we can measure, after the fact, "
    "how the scores of each group turn out. For each group: how many people, their default rate, "
    "how well the score ranks them (AUC: the chance that someone who repaid outscores someone "
    "who defaulted; 0.5 is a coin toss), and their share in the top two bands. The ratio "
    "divides that share by the best group's: below 0.8 (the \"four-fifths\" rule used to spot "
    "adverse impact) the group is flagged. A flag with a higher default rate means the score "
    "follows the group's repayment record; a flag with the same default rate would mean it "
    "treats the group worse than its behaviour warrants."
)

ATTRIBUTE_TITLES = {"sex": "Sex", "age": "Age", "education": "Education", "marriage": "Marital status"}


def fairness() -> list[dict[str, Any]]:
    """The published fairness table grouped by attribute: ``[{attribute, title, groups}]``."""
    groups = published()["fairness"]["groups"]
    return [
        {"attribute": key, "title": title, "groups": [g for g in groups if g["attribute"] == key]}
        for key, title in ATTRIBUTE_TITLES.items()
    ]


def model_card(params: ScoringParams = PARAMS) -> dict[str, Any]:
    """Everything the page shows, JSON-safe (the API returns exactly this)."""
    figures = published()
    return {
        "scale": {
            "min": params.score_min,
            "max": params.score_max,
            "start": params.score_min,
            "span": params.span,
            "formula": (
                f"score = {params.score_min} + the points of the four factors (at most {params.span:g} in all) "
                f"+ your friends' points, kept within {params.score_min}–{params.score_max}"
            ),
        },
        "factors": factors(params),
        "friends": {
            "cap": params.contagion_cap,
            "text": (
                f"Friends move your score by at most ±{params.contagion_cap:g} points: a friend whose "
                f"behaviour alone scores above {params.contagion_neutral_base:g} lifts you a little, one "
                "below it pulls you down a little, and their friends reach you more weakly still. A "
                f"friendship counts once it is {settings.CONTAGION_VESTING.days} days old."
            ),
        },
        "bands": bands(params),
        "examples": worked_examples(),
        "example_amount": example_amount(),
        "evaluation": {
            "data": figures["data"],
            "auc": figures["auc"],
            "distribution": figures["distribution"],
            "bands": figures["bands"],
            "buckets": figures["buckets"],
            "falls_band_by_band": figures["falls_band_by_band"],
            "odds": figures["odds"],
        },
        "fairness": {
            "explanation": FAIRNESS_EXPLANATION,
            "four_fifths": figures["fairness"]["four_fifths"],
            "top_two_floor": figures["fairness"]["top_two_floor"],
            "attributes": fairness(),
        },
        "model": figures["model"],
    }


def _percent(value: float | None) -> str:
    # A no-break space keeps "12.3 %" on one line in a narrow table column.
    return "—" if value is None else f"{100 * value:.1f}\u00a0%"


def page_context(params: ScoringParams = PARAMS) -> dict[str, Any]:
    """``model_card`` plus the page's display strings: every share and rate as "12.3 %", the
    odds table as rows, the groups with their flags spelled out."""
    card = model_card(params)
    evaluation = card["evaluation"]
    for row in (*evaluation["bands"], *evaluation["buckets"]):
        row["rate_text"] = _percent(row["default_rate"])
    for attribute in card["fairness"]["attributes"]:
        for g in attribute["groups"]:
            g["rate_text"] = _percent(g["default_rate"])
            g["top_two_text"] = _percent(g["top_two_share"])
    evaluation["odds_rows"] = [
        {"score": int(score), "odds": odds} for score, odds in evaluation["odds"]["odds_at"].items()
    ]
    return card
