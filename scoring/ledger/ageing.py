"""Time as a cause (DESIGN §3): events age against the calendar, so a stored score is computed
for a date (``ScoreState.as_of``) and moves when the date does, with a ledger row of its own.

``ageing_sweep`` (beat, hourly; the work is done once a day) moves every state whose date is
behind today's: members with no scored event only get the new date (nothing of theirs ages);
the others are recomputed for today in batches, one transaction per batch, and get an
``AGEING`` row ("Late or missed payments of March now count less: +3") where their displayed score moved.
A base that moved by less than a displayed point is stored without a row, as every other writer
does. Friends follow through ``bases_changed``, boards and badges through ``scores_changed``,
as for an event, and the follow-up is recorded with the change (``follow_up``). A sweep that
dies half-way leaves the rest behind today's date: the next run takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.members.models import User
from config.kernel import locks
from config.kernel.bulk_sql import rows_update
from scoring.ingestion.models import Event, Partner
from scoring.ledger import follow_up
from scoring.ledger.bulk import CHUNK, profiles, scored_facts
from scoring.ledger.models import ScoreChange, ScoreState, scoring_date
from scoring.ledger.rows import Snapshot, ageing_step
from scoring.ledger.signals import ScoreMove
from scoring.model import band_for

#: Members per transaction of the sweep.
BATCH = 200


@transaction.atomic
def members_age(*, member_ids: Sequence[int], as_of: date | None = None, now: datetime | None = None,
                announce: bool = True) -> int:
    """Move these members' score states to ``as_of`` (default: today), in one transaction.

    States already on or past ``as_of`` are left alone. ``now`` dates the rows (default: the
    clock; a replay of history passes its own). Returns how many ledger rows were written.
    """
    now = now or timezone.now()
    as_of = as_of or scoring_date(now)
    members = locks.members_lock(sorted(set(member_ids)))
    states = {s.member_id: s for s in ScoreState.objects.filter(member_id__in=[m.pk for m in members],
                                                                 as_of__lt=as_of)}
    members = [m for m in members if m.pk in states]
    if not members:
        return 0
    facts = scored_facts([m.pk for m in members], {p.pk: p for p in Partner.objects.all()})
    profile_of = profiles(members)
    rows: list[ScoreChange] = []
    state_values: list[tuple[Any, ...]] = []
    user_values: list[tuple[Any, ...]] = []
    moves: list[ScoreMove] = []
    moved_bases: list[int] = []
    for member in members:
        state = states[member.pk]
        before = Snapshot.of(state)
        row, after, _ = ageing_step(member=member, before=before, facts=facts[member.pk],
                                    profile=profile_of[member.pk], since=state.as_of, as_of=as_of)
        assert after.score is not None
        state_values.append((after.base, after.score, after.factors, as_of, now, member.pk))
        if after.base != before.base:
            moved_bases.append(member.pk)
        if row is not None:
            row.created_at = now
            rows.append(row)
            user_values.append((after.score, band_for(after.score), now, member.pk))
            moves.append({"member_id": member.pk, "old_score": before.score, "new_score": after.score,
                          "cause": str(row.cause), "explanation": row.explanation})
    ScoreChange.objects.bulk_create(rows, batch_size=CHUNK)
    rows_update(ScoreState, key="member", fields=("base", "score", "factors", "as_of", "updated_at"),
                rows=state_values)
    rows_update(User, key="id", fields=("score", "score_band", "score_reached_at"), rows=user_values)
    if announce:
        # Recorded with the change, like every writer's: a worker killed after the commit leaves
        # marks the follow-up sweeper completes.
        follow_up.changes_record(moves=moves, bases=moved_bases, payments_on_time=[])
    return len(rows)


def ageing_sweep(*, as_of: date | None = None, batch: int = BATCH) -> int:
    """Move every score state behind ``as_of`` (default: today) to it; return the rows written."""
    as_of = as_of or scoring_date()
    behind = ScoreState.objects.filter(as_of__lt=as_of)
    # Nothing of a member without a scored event ages: only the date moves.
    has_events = Exists(Event.objects.filter(member_id=OuterRef("member_id"), status=Event.Status.SCORED))
    behind.filter(~has_events).update(as_of=as_of)
    written, last = 0, 0
    while True:
        # Walk up the ids: a state that did not move (its member went meanwhile) is passed, not retried.
        member_ids = list(behind.filter(member_id__gt=last).order_by("member_id")
                          .values_list("member_id", flat=True)[:batch])
        if not member_ids:
            return written
        written += members_age(member_ids=member_ids, as_of=as_of)
        last = member_ids[-1]
