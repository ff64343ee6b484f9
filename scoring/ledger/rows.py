"""Ledger rows and their wording: what the per-member scorer (``services``) and the batch scorer
(``bulk``) both build, so the two write the very same rows.

Nothing here touches the database: a ``ScoreChange`` is built, not saved, and a ``Snapshot`` is
a member's score at one moment (points; ``None`` before the first score).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from accounts.members.models import User
from scoring.ingestion.models import Event
from scoring.ledger.models import EXPLANATION_MAX_LENGTH, ScoreChange, ScoreState
from scoring.ledger.streaks import may_be_on_time
from scoring.model import BaseResult, EventFact, describe_event, total_score
from scoring.model.factors import PROFILE_FIELDS, event_quality

#: Appended when a good event (an on-time payment in full, a purchase) comes with a fall: the
#: model weighs events by their age relative to the latest one (scoring/model/factors.py), so a
#: payment after a long gap ages the earlier ones at once.
AGING_NOTE = " (earlier ones count less as they age)"


def format_points(delta: int) -> str:
    """``+3``, ``−12`` (a real minus sign) or ``±0``."""
    if delta > 0:
        return f"+{delta}"
    if delta < 0:
        return f"−{-delta}"
    return "±0"


def event_explanation(fact: EventFact, delta: int) -> str:
    """The ledger line of one event: "Card repayment to Acme 14 days late: −12"."""
    text = f"{describe_event(fact)}: {format_points(delta)}"
    good = fact.kind == "purchase" or event_quality(fact) >= 1.0
    if delta < 0 and good:
        text += AGING_NOTE
    return text[:EXPLANATION_MAX_LENGTH]


def starting_explanation(result: BaseResult) -> str:
    """The ledger line of a member's first score (no events scored yet, or a bulk load's)."""
    filled = len(PROFILE_FIELDS) - len(result.missing_profile)
    return f"Starting score: no payment history yet, profile {filled} of {len(PROFILE_FIELDS)} complete"


def factors_dict(result: BaseResult) -> dict[str, float]:
    return {f.name: f.value for f in result.factors}


@dataclass(frozen=True)
class Snapshot:
    """A member's score at one moment."""

    score: int | None
    base: float | None
    social: float
    factors: dict[str, float] | None

    @classmethod
    def of(cls, state: ScoreState | None) -> Snapshot:
        if state is None:
            return cls(score=None, base=None, social=0.0, factors=None)
        return cls(score=state.score, base=state.base, social=state.social, factors=state.factors)


def ledger_row(
    *, member: User, cause: str, before: Snapshot, result: BaseResult, social: float,
    explanation: str, event: Event | None = None,
) -> tuple[ScoreChange, Snapshot]:
    """The (unsaved) ledger row that moves ``member`` from ``before`` to ``result`` with these
    social points, and the snapshot after it."""
    new_score = total_score(result.base, social)
    after = Snapshot(score=new_score, base=result.base, social=social, factors=factors_dict(result))
    row = ScoreChange(
        member=member, cause=cause, event=event,
        old_score=before.score, new_score=new_score,
        old_base=before.base, new_base=result.base,
        old_social=before.social if before.score is not None else None, new_social=social,
        old_factors=before.factors, new_factors=after.factors,
        explanation=explanation[:EXPLANATION_MAX_LENGTH],
    )
    return row, after


def any_on_time(facts: Iterable[EventFact]) -> bool:
    """Whether any of these events may be an on-time payment (``streaks.may_be_on_time``)."""
    return any(may_be_on_time(kind=f.kind, due_date=f.due_date, paid_date=f.paid_date, missed=f.missed,
                              amount=f.amount, amount_paid=f.amount_paid) for f in facts)
