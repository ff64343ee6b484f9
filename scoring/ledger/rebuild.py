"""Rebuild a member's score from the source of truth (their scored events and profile)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from config.kernel import locks
from scoring.ledger import selectors, services
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model import compute_base, total_score


@dataclass(frozen=True)
class Difference:
    username: str
    stored: int | None
    rebuilt: int
    stored_base: float | None
    rebuilt_base: float

    def __str__(self) -> str:
        return (f"{self.username}: stored {self.stored} (base {self.stored_base}), "
                f"rebuilt {self.rebuilt} (base {self.rebuilt_base:.6f})")


@transaction.atomic
def member_rebuild(*, member_id: int, write: bool = True) -> Difference | None:
    """Recompute from events; return the difference to the stored state, if any.

    Members without a state yet are not a difference: they get their first score when needed.
    """
    member = locks.member_lock(member_id)
    state = ScoreState.objects.filter(member=member).first()
    if state is None:
        return None
    # On the state's own date, so that a rebuild reproduces the stored score exactly.
    result = compute_base(selectors.facts_of(selectors.scored_events(member_id=member_id)),
                          selectors.profile_facts(member=member), as_of=state.as_of)
    rebuilt = total_score(result.base, state.social)
    if rebuilt == state.score and abs(result.base - state.base) < 1e-9:
        return None
    difference = Difference(member.username, state.score, rebuilt, state.base, result.base)
    if write:
        services.member_rescore(member_id=member_id, cause=ScoreChange.Cause.RECALIBRATION,
                                explanation="Model recalibration")
    return difference
