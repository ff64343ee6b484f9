"""What must happen after a score changes, recorded with the change and completed by a sweeper.

A score change is followed by work in other parts — friend contagion folds the new base in,
the boards move the member, one live message is published, perks, challenges and badges look at
the new score — all started by the ledger's signals after the commit. A worker killed between
the commit and those signals used to lose that work for good: nothing in the database said it
was owed. Now every writer of scores (``services._state_write``, the batch scorer in ``bulk``,
contagion's points write) calls ``changes_record`` inside its transaction:

* a ``FollowUp`` row per member and kind (``score``: the displayed score moved; ``base``: the
  base moved) is written with the change — one statement per batch, an upsert keeping the
  oldest unfollowed ``old_score``;
* after the commit the signals go out as before; ``score`` marks are cleared when every receiver
  of the announcement succeeded, ``base`` marks when friend contagion has folded the bases in
  (``bases_followed``, called by ``scoring.contagion.services.contagion_bases_sync``);
* ``follow_ups_sweep`` (beat, every ``SWEEP_EVERY``) announces again whatever is still marked
  ``SWEEP_AFTER`` after its last mark. Receivers read the truth from the database, so a late or
  repeated announcement converges on the same state.

So derived state is wrong for at most about ``SWEEP_AFTER + SWEEP_EVERY`` (30 s) after a crash,
without any new event and without a rebuild.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.members.models import User
from config.kernel.after_commit import call_on_commit, send_on_commit, send_robust
from scoring.ledger.models import FollowUp, ScoreState
from scoring.ledger.signals import ScoreMove, bases_changed, score_changed, scores_changed

logger = logging.getLogger(__name__)

#: A mark this old lost its follow-up (the normal path clears it within a second or so; a
#: contagion backlog may take longer, and is then announced again — harmless, only late).
SWEEP_AFTER = timedelta(seconds=20)
#: How often beat runs ``follow_ups_sweep`` (settings: ``scoring-follow-ups-sweep``).
SWEEP_EVERY = timedelta(seconds=10)
#: Marks announced per sweep (the oldest first); the rest wait for the next sweep.
SWEEP_BATCH = 5_000


def _token() -> int:
    return secrets.randbits(62)


def changes_record(*, moves: Sequence[ScoreMove], bases: Sequence[int] = (),
                   payments_on_time: Collection[int] | None = None, one: bool = False) -> None:
    """Inside the transaction that changed these scores: mark their follow-up, and announce them
    after the commit — ``scores_changed`` once for ``moves`` (``score_changed`` for a single
    member's move when ``one``, the per-member path), ``bases_changed`` once for ``bases`` (with
    ``payments_on_time``, see ``signals``)."""
    if not moves and not bases:
        return
    token, now = _token(), timezone.now()
    rows = sorted(
        [FollowUp(member_id=m["member_id"], kind=FollowUp.Kind.SCORE, old_score=m["old_score"], cause=m["cause"],
                  token=token, marked_at=now) for m in moves]
        + [FollowUp(member_id=i, kind=FollowUp.Kind.BASE, token=token, marked_at=now) for i in bases],
        # Ascending, as every writer of marks takes them: two batches never wait on each other in a cycle.
        key=lambda row: (row.member_id, row.kind))
    # A member marked already keeps the old score of the first change not yet followed up.
    FollowUp.objects.bulk_create(rows, update_conflicts=True, unique_fields=["member", "kind"],
                                 update_fields=["token", "marked_at", "cause"])
    if moves:
        call_on_commit(_scores_announce, list(moves), token, one)
    if bases:
        send_on_commit(bases_changed, sender=ScoreState, member_ids=list(bases),
                       payments_on_time=None if payments_on_time is None else sorted(payments_on_time))


def _scores_announce(moves: list[ScoreMove], token: int, one: bool) -> None:
    """After the commit: announce the moves; clear their marks if every receiver succeeded."""
    if one and len(moves) == 1:
        ok = send_robust(score_changed, sender=ScoreState, **moves[0])
    else:
        ok = send_robust(scores_changed, sender=ScoreState, changes=moves)
    if ok:
        _clear(FollowUp.Kind.SCORE, {m["member_id"]: token for m in moves})


def _clear(kind: str, tokens: Mapping[int, int]) -> int:
    """Delete these marks, each only if still at its token (a newer mark stays), locking them in
    ascending member order as every writer of marks does. One statement. Returns how many went."""
    if not tokens:
        return 0
    members = sorted(tokens)
    if connection.vendor != "postgresql":  # SQLite: writers are serialised, no row locks
        match = Q()
        for member_id in members:
            match |= Q(member_id=member_id, token=tokens[member_id])
        return FollowUp.objects.filter(match, kind=kind).delete()[0]
    table = FollowUp._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE kind = %s"  # noqa: S608 - our table
            " AND (member_id, token) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))"
            " ORDER BY member_id FOR UPDATE)",
            [kind, members, [tokens[m] for m in members]])
        return cursor.rowcount


def bases_pending(*, member_ids: Collection[int]) -> dict[int, int]:
    """``{member: token}`` of these members' ``base`` marks: read BEFORE their bases are read,
    so ``bases_followed`` clears only marks whose change the reader saw."""
    return dict(FollowUp.objects.filter(kind=FollowUp.Kind.BASE, member_id__in=list(member_ids))
                .values_list("member_id", "token"))


def bases_followed(tokens: Mapping[int, int]) -> int:
    """Friend contagion folded these members' bases in (as read after ``bases_pending``): clear
    their marks."""
    return _clear(FollowUp.Kind.BASE, tokens)


def follow_ups_sweep(*, older_than: timedelta = SWEEP_AFTER, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Announce again the changes whose follow-up is still marked ``older_than`` after their last
    mark (a worker died after the commit, Redis or a receiver failed): ``scores_changed`` with
    each member's current score (old: the mark's), then ``bases_changed`` (streak candidates
    unknown: ``payments_on_time`` None). Score marks are cleared when every receiver succeeded;
    base marks stay until contagion folds them, and are stamped now so they wait another
    ``older_than`` before the next try. Returns how many marks of each kind it announced."""
    cutoff = timezone.now() - older_than
    due = list(FollowUp.objects.filter(marked_at__lt=cutoff).order_by("marked_at")
               .values_list("pk", "member_id", "kind", "old_score", "cause", "token")[:limit])
    if not due:
        return {"scores": 0, "bases": 0}
    scores = {member_id: (old, cause, token) for _, member_id, kind, old, cause, token in due
              if kind == FollowUp.Kind.SCORE}
    bases = sorted(member_id for _, member_id, kind, *_ in due if kind == FollowUp.Kind.BASE)
    logger.warning("follow-up sweep: announcing again %d score move(s) and %d base change(s) whose follow-up "
                   "was lost or failed", len(scores), len(bases))
    with transaction.atomic():  # stamped in ascending member order, as every writer of marks locks them
        ids = list(FollowUp.objects.select_for_update().filter(pk__in=[row[0] for row in due]).order_by("member_id")
                   .values_list("pk", flat=True))
        FollowUp.objects.filter(pk__in=ids).update(marked_at=timezone.now(), swept=F("swept") + 1)
    if scores:
        current = dict(User.objects.filter(pk__in=list(scores), score__isnull=False).values_list("pk", "score"))
        changes: list[Any] = [{"member_id": m, "old_score": old, "new_score": current[m], "cause": cause,
                               "explanation": ""} for m, (old, cause, _) in sorted(scores.items()) if m in current]
        if send_robust(scores_changed, sender=ScoreState, changes=changes):
            _clear(FollowUp.Kind.SCORE, {m: token for m, (_, _, token) in scores.items()})
    if bases:
        send_robust(bases_changed, sender=ScoreState, member_ids=bases, payments_on_time=None)
    return {"scores": len(scores), "bases": len(bases)}
