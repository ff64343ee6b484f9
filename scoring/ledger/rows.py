"""Ledger rows and their wording: what the per-member scorer (``services``) and the batch scorer
(``bulk``) both build, so the two write the very same rows.

Nothing here touches the database: a ``ScoreChange`` is built, not saved, and a ``Snapshot`` is
a member's score at one moment (points; ``None`` before the first score).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from accounts.members.models import User
from scoring.ingestion.models import Event
from scoring.ledger.models import EXPLANATION_MAX_LENGTH, ScoreChange, ScoreState
from scoring.ledger.streaks import may_be_on_time
from scoring.model import (
    BaseResult,
    EventFact,
    ProfileFacts,
    compute_base,
    describe_ageing,
    describe_event,
    total_score,
)
from scoring.model.factors import PROFILE_FIELDS


def format_points(delta: int) -> str:
    """``+3``, ``−12`` (a real minus sign) or ``±0``."""
    if delta > 0:
        return f"+{delta}"
    if delta < 0:
        return f"−{-delta}"
    return "±0"


def event_explanation(fact: EventFact, delta: int) -> str:
    """The ledger line of one event: "Card repayment to Acme 14 days late: −12"."""
    return f"{describe_event(fact)}: {format_points(delta)}"[:EXPLANATION_MAX_LENGTH]


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


def ageing_step(*, member: User, before: Snapshot, facts: Sequence[EventFact], profile: ProfileFacts,
                since: date, as_of: date) -> tuple[ScoreChange | None, Snapshot, BaseResult]:
    """Move a member scored on ``since`` to the date ``as_of`` with no new event.

    Returns the ledger row that says what time changed ("Late payments of March now count less:
    +3") when the displayed score moved, else None, then the snapshot and breakdown on ``as_of``
    (its base may have moved by less than a displayed point). Writers call it before applying
    anything new, so every later row explains only its own cause.
    """
    result = compute_base(facts, profile, as_of=as_of)
    if before.score is None or since >= as_of:
        return None, before, result
    row, after = ledger_row(member=member, cause=ScoreChange.Cause.AGEING, before=before, result=result,
                            social=before.social, explanation="")
    if row.delta == 0:
        return None, after, result
    row.explanation = f"{describe_ageing(facts, since, as_of)}: {format_points(row.delta)}"[:EXPLANATION_MAX_LENGTH]
    return row, after, result
