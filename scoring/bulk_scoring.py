"""Scoring many members' pending events at once: the bulk path behind ``seed_demo``.

``members_score_pending_bulk`` writes exactly what calling
``scoring.services.member_score_pending`` once per member writes — the same ledger rows (cause,
event, old/new score, base, social points, factors, explanation, in the same order), the same
score states, the same denormalised scores, every pending event marked scored with one more
attempt — only timestamps differ (one ``now`` per batch). ``tests/scoring/test_demo_world.py``
checks the equality on a seeded world. It exists because the per-member path costs ~50 ms a
member (one transaction, ~15 queries and a per-event ``bulk_update``), i.e. minutes for the
4,039-member demo world; here a batch of members shares a transaction and a handful of queries,
while the scoring itself is the same code: ``compute_base`` after each event, ledger rows built
by ``services._ledger_row``.

Differences, on purpose:

* **Announcements are coalesced.** With ``announce=True`` the batch sends ONE ``scores_changed``
  after commit listing every member whose score moved (old = before the batch, new = after),
  and ONE ``bases_changed`` listing every member whose base moved, where the per-member path
  sends a ``score_changed`` per write (two for a member scored for the first time).
  Listeners only read the latest state, so they end in the same place. With ``announce=False``
  nothing is announced: the caller must rebuild derived state from the truth afterwards
  (``manage.py contagion_rebuild``; boards rebuild from the database) — what a bulk load wants.
* **Errors are not isolated per member**: a failure rolls back its batch and raises. This path is
  for loading, not for the live pipeline, which keeps ``members_score_pending``.

Preconditions: no concurrent scorer of the same members is expected to make progress meanwhile
(the members' rows are locked per batch, as in the per-member path).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from scoring import selectors
from scoring.model import EventFact, band_for, compute_base
from scoring.models import Event, Partner, ScoreChange, ScoreState
from scoring.services import Snapshot, _ledger_row, _starting_explanation, event_explanation
from scoring.signals import ScoreMove, bases_changed, scores_announce

BATCH = 200


def members_score_pending_bulk(*, member_ids: Iterable[int], announce: bool = True, batch: int = BATCH,
                               progress: Any = None) -> int:
    """Apply every pending event of these members, ``batch`` members per transaction.

    Returns how many events were applied. ``progress``: optional tqdm-like bar, advanced by the
    number of members of each batch.
    """
    ids = sorted(set(member_ids))
    applied = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        applied += _score_batch(chunk, announce=announce)
        if progress is not None:
            progress.update(len(chunk))
    return applied


@transaction.atomic
def _score_batch(member_ids: list[int], *, announce: bool) -> int:
    members = list(User.objects.select_for_update().filter(pk__in=member_ids).order_by("pk"))
    states = {s.member_id: s for s in ScoreState.objects.filter(member_id__in=member_ids)}
    # Partners are few: one lookup each instead of a join and a model instance per event.
    partners = {p.pk: p for p in Partner.objects.all()}
    pending: dict[int, list[Event]] = defaultdict(list)
    for event in (Event.objects.filter(member_id__in=member_ids, status=Event.Status.PENDING)
                  .order_by("member_id", "occurred_at", "id")):
        event.partner = partners[event.partner_id]
        pending[event.member_id].append(event)
    scored: dict[int, list[EventFact]] = defaultdict(list)
    for event in Event.objects.filter(member_id__in=member_ids, status=Event.Status.SCORED):
        event.partner = partners[event.partner_id]
        scored[event.member_id].append(selectors.event_fact(event))

    now = timezone.now()
    rows: list[ScoreChange] = []
    new_states: list[ScoreState] = []
    changed_states: list[ScoreState] = []
    moved: list[User] = []
    announcements: list[tuple[int, Snapshot, Snapshot, ScoreChange]] = []
    applied_ids: list[int] = []
    for member in members:
        state = states.get(member.pk)
        profile = selectors.profile_facts(member=member)
        facts = scored[member.pk]
        member_rows: list[ScoreChange] = []
        if state is None:
            # What member_state_ensure writes: the starting score, from scored events and profile.
            result = compute_base(facts, profile)
            row, current = _ledger_row(member=member, cause=ScoreChange.Cause.PROFILE, before=Snapshot.of(None),
                                       result=result, social=0.0, explanation=_starting_explanation(result))
            member_rows.append(row)
            first = Snapshot.of(None)
        else:
            current = first = Snapshot.of(state)
        for event in pending[member.pk]:
            fact = selectors.event_fact(event)
            facts.append(fact)
            result = compute_base(facts, profile)
            row, after = _ledger_row(member=member, cause=ScoreChange.Cause.EVENT, before=current, result=result,
                                     social=current.social, event=event, explanation="")
            row.explanation = event_explanation(fact, row.delta)
            member_rows.append(row)
            current = after
            applied_ids.append(event.pk)
        if not member_rows:
            continue
        rows.extend(member_rows)
        assert current.score is not None and current.base is not None and current.factors is not None
        values = {"base": current.base, "social": current.social, "score": current.score, "factors": current.factors}
        if state is None:
            new_states.append(ScoreState(member=member, **values))
        else:
            for name, value in values.items():
                setattr(state, name, value)
            state.updated_at = now
            changed_states.append(state)
        if current.score != first.score:
            member.score, member.score_band, member.score_reached_at = current.score, band_for(current.score), now
            moved.append(member)
        announcements.append((member.pk, first, current, member_rows[-1]))

    ScoreChange.objects.bulk_create(rows, batch_size=500)
    ScoreState.objects.bulk_create(new_states, batch_size=500)
    ScoreState.objects.bulk_update(changed_states, ["base", "social", "score", "factors", "updated_at"], batch_size=500)
    User.objects.bulk_update(moved, ["score", "score_band", "score_reached_at"], batch_size=500)
    for start in range(0, len(applied_ids), 500):
        Event.objects.filter(pk__in=applied_ids[start:start + 500]).update(
            status=Event.Status.SCORED, scored_at=now, attempts=F("attempts") + 1
        )
    if announce:
        scores_announce([_move(member_id, before, after, last) for member_id, before, after, last in announcements
                         if after.score != before.score], sender=ScoreState)
        moved_bases = [member_id for member_id, before, after, _ in announcements if after.base != before.base]
        if moved_bases:
            transaction.on_commit(lambda: bases_changed.send(sender=ScoreState, member_ids=moved_bases))
    return len(applied_ids)


def _move(member_id: int, before: Snapshot, after: Snapshot, last: ScoreChange) -> ScoreMove:
    assert after.score is not None
    return {"member_id": member_id, "old_score": before.score, "new_score": after.score, "cause": str(last.cause),
            "explanation": last.explanation}
