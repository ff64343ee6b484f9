"""Progress to the next band: how many points, and which concrete behaviours would get there.

Read-only (never writes, not even a first score state). Each candidate behaviour is run through
the what-if simulator's model path (``scoring.explain.whatif.scenario_fact`` for the hypothetical event,
then ``compute_base`` / ``total_score`` on a copy of the member's facts, with the member's
current social points), so its ``points`` equal the ``delta`` that ``POST me/score/what-if/``
reports for the same scenario. The member's facts are loaded once for all candidates.

Candidates: the next bill paid on time and in full, the next card repayment paid on time and in
full, both together, and each missing profile item. Purchases are deliberately not suggested:
Credo does not nudge members to spend. The amounts are the member's latest amount of that kind
(``DEFAULT_AMOUNT`` when they have none): a payment's evidence grows with its size up to
``ScoringParams.amount_full``, so the suggestion is worth what the member's next one would be.
Options are ranked by points, payments before profile items on a tie: paying on time always
ranks above a profile change worth no more.

"What would get there" = the candidates whose simulated score reaches the next band's lowest
score; when none does, the ``BEST_FEW`` largest gains. Bands are ``scoring.model`` bands.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.urls import reverse

from accounts.members.models import User
from scoring.explain.whatif import scenario_fact
from scoring.ledger import selectors
from scoring.ledger.models import scoring_date
from scoring.ledger.rows import format_points
from scoring.model import PARAMS, EventFact, ProfileFacts, band_bounds, band_for, compute_base, total_score
from scoring.model.factors import BILL_PAYMENT, CARD_REPAYMENT

DEFAULT_AMOUNT = Decimal("100.00")
BEST_FEW = 3

_PROFILE_STEPS = {
    "email_verified": "Verify your email address",
    "phone": "Add a phone number to your profile",
    "city": "Add your city to your profile",
    "avatar": "Add a profile photo",
    "bio": "Write a short bio",
}


@dataclass(frozen=True)
class Option:
    """One concrete behaviour: ``points`` it would add now (exact, may be 0), the score it
    would give, and whether that reaches the next band."""

    code: str
    text: str
    points: int
    new_score: int
    reaches_next_band: bool
    link: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "points": self.points, "points_text": format_points(self.points),
                "new_score": self.new_score, "reaches_next_band": self.reaches_next_band, "link": self.link}


@dataclass(frozen=True)
class Progress:
    """``points_needed`` = next band's lowest score − ``score`` (None in the top band).
    ``gets_there``: the options that reach the next band, or the best few when none does."""

    score: int
    band: str
    next_band: str | None
    next_band_min: int | None
    points_needed: int | None
    band_min: int
    options: tuple[Option, ...]
    gets_there: tuple[Option, ...]

    @property
    def top_band(self) -> bool:
        return self.next_band is None

    @property
    def reachable_now(self) -> bool:
        return any(o.reaches_next_band for o in self.gets_there)

    @property
    def percent(self) -> int:
        """How far through the current band (0-100), for a meter."""
        if self.next_band_min is None:
            return 100
        width = self.next_band_min - self.band_min
        return max(0, min(100, round(100 * (self.score - self.band_min) / width))) if width > 0 else 100

    @property
    def message(self) -> str:
        if self.next_band is None:
            return f"{self.score}: you are in the top band, {self.band}. Keep paying on time to stay there."
        points = "point" if self.points_needed == 1 else "points"
        return f"{self.points_needed} {points} to {self.next_band} ({self.next_band_min}+)."

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "band": self.band,
            "top_band": self.top_band,
            "next_band": None if self.next_band is None else {
                "name": self.next_band, "min_score": self.next_band_min, "points_needed": self.points_needed},
            "message": self.message,
            "gets_there": [o.as_dict() for o in self.gets_there],
            "options": [o.as_dict() for o in self.options],
        }


def _latest_amount(facts: list[EventFact], kind: str) -> Decimal:
    of_kind = [f for f in facts if f.kind == kind]
    if not of_kind:
        return DEFAULT_AMOUNT
    return max(of_kind, key=lambda f: (f.occurred_at, f.ref)).amount


def member_progress(*, member: User) -> Progress:
    """The member's progress to the next band (three queries, no writes)."""
    state = selectors.score_state(member=member)
    facts = selectors.facts_of(selectors.scored_events(member_id=member.pk))
    profile = selectors.profile_facts(member=member)
    social = state.social if state else 0.0
    today = scoring_date()
    current = total_score(compute_base(facts, profile, as_of=today).base, social)
    score = state.score if state else current
    band_min, next_band, next_min = band_bounds(score)

    def option(code: str, text: str, extra: list[EventFact], with_profile: ProfileFacts, link: str = "") -> Option:
        # The gain is the model's (now vs. with the extra behaviour), added to the score the
        # member sees: the two can differ (a recalibration not yet rescored, a frozen account).
        gain = total_score(compute_base([*facts, *extra], with_profile, as_of=today).base, social) - current
        new_score = max(PARAMS.score_min, min(PARAMS.score_max, score + gain))
        reaches = next_min is not None and new_score >= next_min
        return Option(code=code, text=text, points=gain, new_score=new_score, reaches_next_band=reaches, link=link)

    bill = scenario_fact({"kind": BILL_PAYMENT, "amount": _latest_amount(facts, BILL_PAYMENT),
                          "days_late": 0, "missed": False})
    card = scenario_fact({"kind": CARD_REPAYMENT, "amount": _latest_amount(facts, CARD_REPAYMENT),
                          "days_late": 0, "missed": False})
    card = replace(card, ref="what-if-2")  # a distinct event, for the pair below
    candidates = [
        option("bill_on_time", "Pay your next bill on time and in full", [bill], profile),
        option("card_on_time", "Pay your next card repayment on time and in full", [card], profile),
        option("bill_and_card_on_time", "Pay both your next bill and your next card repayment on time",
               [bill, card], profile),
    ]
    for name in profile.missing():
        link = reverse("account_email" if name == "email_verified" else "settings")
        candidates.append(option(f"profile_{name}", _PROFILE_STEPS[name], [], replace(profile, **{name: True}), link))
    options = tuple(sorted((o for o in candidates if o.points > 0), key=lambda o: (-o.points, o.code)))
    reaching = tuple(o for o in options if o.reaches_next_band)
    return Progress(
        score=score, band=band_for(score), next_band=next_band, next_band_min=next_min,
        points_needed=None if next_min is None else next_min - score, band_min=band_min,
        options=options, gets_there=reaching or options[:BEST_FEW],
    )
