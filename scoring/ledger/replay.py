"""Replaying members' pending events at the moments they were received: a history loaded at
once (the demo world) written as the live pipeline would have written it over the months.

``members_replay(member_ids=…, until=…)`` takes each member's pending events received up to
``until`` (``Event.received_at``) and walks their calendar in order. On the way it writes what
the live path writes, dated when it would have happened:

* a member without a score gets their starting score on the day they joined (``date_joined``;
  ``until`` if that is later), as ``services.member_state_ensure`` does at sign-up;
* at every event's receipt: first what time changed since the member was last scored
  (``rows.ageing_step``: an ``AGEING`` row when the displayed score moved), then the event's own
  row, scored on the day it was received — what ``bulk.members_score_pending_bulk`` writes for
  a batch scored at that moment (``as_of`` = its date, rows dated ``now`` = the receipt);
* at every ageing pass (``ageing_days`` apart, at ``AGEING_HOUR`` UTC, on the days counted from
  1 January 1970, a Thursday; 7 gives Mondays) and finally on ``until``'s date: the ageing step
  alone, as ``scoring.ledger.ageing`` does when it ages a member to a date. The live task runs
  daily; passing 7 writes the same scores in fewer, larger steps (the displayed score on any
  date depends only on the history and the date) for a seventh of the model's work.

Events received after ``until`` stay pending, so a replay can stop at a moment, let something
else happen then (a contagion rebuild), and carry on: the next call starts from the stored
states. Nothing is announced (no ``scores_changed`` / ``bases_changed``): like a bulk load, the
caller rebuilds what derives from scores afterwards (contagion, badges, boards).

A batch of members shares one transaction and a fixed number of statements; the model runs once
per event and once per ageing step, which is the cost of the replay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any

from django.db import transaction

from accounts.members.models import User
from config.kernel import locks
from config.kernel.bulk_sql import rows_insert, rows_update
from config.kernel.chunks import chunks
from scoring.ingestion.models import Event, Partner
from scoring.ledger import selectors
from scoring.ledger.bulk import profiles, scored_facts
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.ledger.rows import Snapshot, ageing_step, event_explanation, ledger_row, starting_explanation
from scoring.model import EventFact, ProfileFacts, band_for, compute_base

BATCH = 200
CHUNK = 500
#: Ledger rows per ``executemany``.
INSERT_ROWS = 5000
#: The hour (UTC) of a replayed ageing pass.
AGEING_HOUR = 3
_EPOCH = date(1970, 1, 1)


@dataclass
class ReplayReport:
    members: int = 0
    events: int = 0
    rows: int = 0
    ageing_rows: int = 0


def ageing_passes(start: date, end: date, every_days: int) -> list[date]:
    """The dates after ``start`` up to ``end`` (inclusive) on which an ageing pass runs: every
    ``every_days`` days counted from 1 January 1970 (7: Mondays)."""
    first = start + timedelta(days=1)
    offset = (-(first - _EPOCH).days) % every_days
    day = first + timedelta(days=offset)
    out = []
    while day <= end:
        out.append(day)
        day += timedelta(days=every_days)
    return out


def _at(day: date) -> datetime:
    return datetime.combine(day, time(AGEING_HOUR), tzinfo=UTC)


class _Walk:
    """One member's way through their calendar: the snapshot, the date it is computed for, and
    the ledger rows written on the way."""

    def __init__(self, member: User, state: ScoreState | None, *, facts: list[EventFact], profile: ProfileFacts,
                 until: datetime) -> None:
        self.member, self.facts, self.profile = member, facts, profile
        self.rows: list[ScoreChange] = []
        self.ageing_rows = 0
        self.reached: datetime | None = None
        if state is None:
            # The starting score, on the day they joined (member_state_ensure at sign-up).
            joined = min(member.date_joined, until)
            self.as_of = joined.astimezone(UTC).date()
            result = compute_base(facts, profile, as_of=self.as_of)
            row, self.current = ledger_row(member=member, cause=ScoreChange.Cause.PROFILE, before=Snapshot.of(None),
                                           result=result, social=0.0, explanation=starting_explanation(result))
            self._write(row, joined)
            self.reached = joined
            self.first = Snapshot.of(None)
        else:
            self.current = self.first = Snapshot.of(state)
            self.as_of = state.as_of
        self.started_as_of = self.as_of

    def _write(self, row: ScoreChange, at: datetime) -> None:
        row.created_at = at
        self.rows.append(row)

    def moment(self, at: datetime, score_before: int | None) -> None:
        """A scoring moment ended at ``at``: the member's score reached its value then if it
        ended elsewhere than it began (``User.score_reached_at``, as each writer sets it)."""
        if self.current.score != score_before:
            self.reached = at

    def age_to(self, day: date, at: datetime) -> None:
        """What time changed up to ``day`` (``rows.ageing_step``), its row dated ``at``."""
        if day <= self.as_of:
            return
        row, self.current, _ = ageing_step(member=self.member, before=self.current, facts=self.facts,
                                           profile=self.profile, since=self.as_of, as_of=day)
        self.as_of = day
        if row is not None:
            self._write(row, at)
            self.ageing_rows += 1

    def apply(self, event: Event) -> None:
        """The event's own row, scored on the current date and dated when it was received."""
        fact = selectors.event_fact(event)
        self.facts.append(fact)
        result = compute_base(self.facts, self.profile, as_of=self.as_of)
        row, after = ledger_row(member=self.member, cause=ScoreChange.Cause.EVENT, before=self.current,
                                result=result, social=self.current.social, event=event, explanation="")
        row.explanation = event_explanation(fact, row.delta)
        self._write(row, event.received_at)
        self.current = after


def members_replay(*, member_ids: Iterable[int], until: datetime, ageing_days: int = 1, batch: int = BATCH,
                   progress: Any = None) -> ReplayReport:
    """Replay these members' pending events received up to ``until`` (see the module docstring).
    ``progress``: optional tqdm-like bar, advanced by the members of each batch."""
    if ageing_days < 1:
        raise ValueError("ageing_days must be at least 1")
    report = ReplayReport()
    for chunk in chunks(sorted(set(member_ids)), batch):
        _replay_batch(list(chunk), until=until, ageing_days=ageing_days, report=report)
        if progress is not None:
            progress.update(len(chunk))
    return report


@transaction.atomic
def _replay_batch(member_ids: list[int], *, until: datetime, ageing_days: int, report: ReplayReport) -> None:
    members = locks.members_lock(member_ids)
    states = {s.member_id: s for s in ScoreState.objects.filter(member_id__in=member_ids)}
    partners = {p.pk: p for p in Partner.objects.all()}
    pending: dict[int, list[Event]] = defaultdict(list)
    for event in (Event.objects.filter(member_id__in=member_ids, status=Event.Status.PENDING, received_at__lte=until)
                  .order_by("member_id", "received_at", "occurred_at", "id")):
        event.partner = partners[event.partner_id]
        pending[event.member_id].append(event)
    scored = scored_facts(member_ids, partners)
    profile_of = profiles(members)

    rows: list[ScoreChange] = []
    new_states: list[ScoreState] = []
    state_values: list[tuple[Any, ...]] = []
    user_values: list[tuple[Any, ...]] = []
    event_values: list[tuple[Any, ...]] = []
    end = until.astimezone(UTC).date()
    for member in members:
        state = states.get(member.pk)
        walk = _Walk(member, state, facts=scored[member.pk], profile=profile_of[member.pk], until=until)
        events = pending[member.pk]
        passes = ageing_passes(walk.as_of, end, ageing_days)
        i = 0
        # Events received at the same moment are scored together, as one batch of the live path.
        for received, group in groupby(events, key=lambda e: e.received_at):
            while i < len(passes) and _at(passes[i]) <= received:
                before = walk.current.score
                walk.age_to(passes[i], _at(passes[i]))
                walk.moment(_at(passes[i]), before)
                i += 1
            before = walk.current.score
            walk.age_to(received.astimezone(UTC).date(), received)
            for event in group:
                walk.apply(event)
                event_values.append((Event.Status.SCORED, received, event.attempts + 1, event.pk))
            walk.moment(received, before)
        for day in [*passes[i:], end]:
            at = min(_at(day), until) if day != end else until
            before = walk.current.score
            walk.age_to(day, at)
            walk.moment(at, before)
        if not walk.rows and walk.as_of == walk.started_as_of:
            continue
        rows.extend(walk.rows)
        report.members += 1
        report.events += len(events)
        report.ageing_rows += walk.ageing_rows
        current = walk.current
        assert current.score is not None and current.base is not None and current.factors is not None
        if state is None:
            new_states.append(ScoreState(member=member, base=current.base, social=current.social,
                                         score=current.score, factors=current.factors, as_of=walk.as_of))
        else:
            state_values.append((current.base, current.social, current.score, current.factors, walk.as_of,
                                 member.pk))
        if current.score != walk.first.score:
            user_values.append((current.score, band_for(current.score), walk.reached, member.pk))

    report.rows += len(rows)
    # A year of rows at once: bulk_create cost more than the scoring itself here.
    rows_insert(ScoreChange, rows, chunk=INSERT_ROWS)
    ScoreState.objects.bulk_create(new_states, batch_size=CHUNK)
    rows_update(ScoreState, key="member", fields=("base", "social", "score", "factors", "as_of"), rows=state_values,
                now=("updated_at",))
    rows_update(User, key="id", fields=("score", "score_band", "score_reached_at"), rows=user_values)
    rows_update(Event, key="id", fields=("status", "scored_at", "attempts"), rows=event_values)


def pending_members(*, member_ids: Sequence[int]) -> set[int]:
    """Of these members, those with pending events or no score yet: who a replay has work for."""
    todo: set[int] = set()
    for chunk in chunks(sorted(member_ids), CHUNK):
        todo.update(Event.objects.filter(member_id__in=chunk, status=Event.Status.PENDING)
                    .values_list("member_id", flat=True))
        have = set(ScoreState.objects.filter(member_id__in=chunk).values_list("member_id", flat=True))
        todo.update(set(chunk) - have)
    return todo
