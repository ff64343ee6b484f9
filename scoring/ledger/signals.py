"""Domain signals of the ledger, sent after commit. Friend contagion and leaderboards listen;
the ledger never imports them. Every change they announce is also recorded in the ledger's
outbox in the change's own transaction (``scoring.ledger.follow_up``): a sweeper announces it
again when its follow-up was lost, so receivers must be idempotent and read the truth.

``scores_changed(changes)``: many members' displayed scores moved at once — ONE send per scoring
batch (``scoring.ledger.bulk``), per contagion points write
(``scoring.contagion.services.social_points_write``) and per sweep. ``changes`` is a list of
JSON-safe dicts (``ScoreMove``), one per member, in the order the members were written. Receivers
handle the list set-based: their queries must not grow with its length; a receiver that raises
leaves the changes marked, to be announced again.
``score_changed(member_id, old_score, new_score, cause, explanation)``: ONE member's displayed
score moved (ints; ``old_score`` None for the first score) by the per-member paths
(``scoring.ledger.services._state_write``: an event scored alone, a rescore, a starting score).
Leaderboards hands it to the same batch code as a list of one, so there is one implementation.
``bases_changed(member_ids, payments_on_time=None)``: these members' own bases moved (a list
of ints: a scoring batch announces all its members at once); friend contagion listens to it and
folds the new bases in with one task per batch. ``payments_on_time``, when the sender knows it,
lists those of them whose change came with a card repayment or bill payment that may be on time
(``scoring.ledger.streaks.may_be_on_time``) — the only change that can lengthen an on-time
streak, so the streak badges look at those members only; None (a rescore, a reversal, a sweep)
means any of them.
"""

from typing import TypedDict

from django.dispatch import Signal

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
