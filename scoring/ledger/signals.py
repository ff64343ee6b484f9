"""Domain signals of the ledger, sent after commit. Friend contagion and leaderboards listen;
the ledger never imports them.

``scores_changed(changes)``: many members' displayed scores moved at once — ONE send per scoring
batch (``scoring.ledger.bulk``) and per contagion points write
(``scoring.contagion.services.social_points_write``). ``changes`` is a list of JSON-safe dicts
(``ScoreMove``), one per member, in the order the members were written. Receivers handle the
list set-based: their queries must not grow with its length.
``score_changed(member_id, old_score, new_score, cause, explanation)``: ONE member's displayed
score moved (ints; ``old_score`` None for the first score) by the per-member paths
(``scoring.ledger.services._state_write``: an event scored alone, a rescore, a starting score).
Leaderboards hands it to the same batch code as a list of one, so there is one implementation.
``bases_changed(member_ids, payments_on_time=None)``: these members' own bases moved (a list
of ints: a scoring batch announces all its members at once); friend contagion listens to it and
folds the new bases in with one task per batch. ``payments_on_time``, when the sender knows it,
lists those of them whose change came with a card repayment or bill payment that may be on time
(``scoring.ledger.streaks.may_be_on_time``) — the only change that can lengthen an on-time
streak, so the streak badges look at those members only; None (a rescore, a reversal) means any
of them.
"""

from typing import TypedDict

from django.dispatch import Signal

from config.kernel.after_commit import send_on_commit

score_changed = Signal()
scores_changed = Signal()
bases_changed = Signal()


class ScoreMove(TypedDict):
    """One member's move in ``scores_changed`` (the same fields as ``score_changed``)."""

    member_id: int
    old_score: int | None
    new_score: int
    cause: str
    explanation: str


def scores_announce(changes: list[ScoreMove], *, sender: type) -> None:
    """Send ``scores_changed`` once, after the current transaction commits (nothing if empty)."""
    if changes:
        send_on_commit(scores_changed, sender=sender, changes=changes)
