"""Writes of the ledger: apply pending events, rescore, retry and sweep.

Every change of a member's score goes through ``_state_write``, which writes the ledger row(s),
the score state and the member's denormalised score in one transaction, and announces the
change after commit (``scoring.ledger.signals``). The rows themselves are built by ``rows``,
the same code the batch scorer (``bulk``) uses; work for the tasks is handed over by task name
after commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.members.models import User
from config.kernel import locks, metrics
from config.kernel.after_commit import enqueue_now, enqueue_on_commit
from config.kernel.chunks import chunks
from scoring.ingestion import dirty
from scoring.ingestion.models import Event
from scoring.ledger import follow_up, selectors
from scoring.ledger.bulk import members_score_pending_bulk
from scoring.ledger.models import ScoreChange, ScoreState, scoring_date
from scoring.ledger.rows import (
    Snapshot,
    ageing_step,
    any_on_time,
    event_explanation,
    factors_dict,
    format_points,
    ledger_row,
    starting_explanation,
)
from scoring.ledger.signals import ScoreMove
from scoring.model import EventFact, band_for, compute_base, total_score
from scoring.webhooks.models import WebhookType
from scoring.webhooks.outbox import events_record

logger = logging.getLogger(__name__)

# A member whose scoring raised this many times (one try per task or sweep) is marked failed.
MAX_SCORING_ATTEMPTS = 5
#: The longest error text kept on a failing event (``Event.last_error``).
LAST_ERROR_MAX_LENGTH = 2000


def _state_write(*, member: User, before: Snapshot, after: Snapshot, rows: list[ScoreChange], as_of: date,
                 on_time: bool | None = None) -> None:
    """Persist the new state (computed for the date ``as_of``) and its ledger rows; record and
    announce its follow-up (``follow_up.changes_record``). ``on_time``: whether the change came
    with a payment that may be on time (None: not known), passed on with ``bases_changed``
    (``payments_on_time``)."""
    assert after.score is not None and after.base is not None and after.factors is not None
    ScoreChange.objects.bulk_create(rows)
    ScoreState.objects.update_or_create(
        member=member,
        defaults={"base": after.base, "social": after.social, "score": after.score, "factors": after.factors,
                  "as_of": as_of},
    )
    moves: list[ScoreMove] = []
    if after.score != before.score:
        User.objects.filter(pk=member.pk).update(
            score=after.score, score_band=band_for(after.score), score_reached_at=timezone.now()
        )
        moves.append({"member_id": member.pk, "old_score": before.score, "new_score": after.score,
                      "cause": str(rows[-1].cause), "explanation": rows[-1].explanation})
    moved_base = [member.pk] if after.base != before.base else []
    follow_up.changes_record(moves=moves, bases=moved_base, one=True,
                             payments_on_time=None if on_time is None else moved_base if on_time else [])


@transaction.atomic
def member_state_ensure(*, member: User) -> ScoreState:
    """The member's score state, created (with its first ledger row) if they have none yet."""
    locked = locks.member_lock(member.pk)
    state = ScoreState.objects.filter(member=locked).first()
    if state is not None:
        return state
    facts = selectors.facts_of(selectors.scored_events(member_id=locked.pk))
    as_of = scoring_date()
    result = compute_base(facts, selectors.profile_facts(member=locked), as_of=as_of)
    before = Snapshot.of(None)
    row, after = ledger_row(member=locked, cause=ScoreChange.Cause.PROFILE, before=before, result=result,
                            social=0.0, explanation=starting_explanation(result))
    _state_write(member=locked, before=before, after=after, rows=[row], as_of=as_of, on_time=any_on_time(facts))
    return ScoreState.objects.get(member=locked)


@transaction.atomic
def member_score_pending(*, member_id: int) -> int:
    """Apply the member's pending events, one ledger row each; return how many were applied.

    The member's row lock serialises concurrent scorers of one member, and the pending set is
    read after taking it, so a duplicate delivery of the same work finds nothing to do.
    The unique ledger constraint (one row per event) backs this up in the database.
    """
    member = locks.member_lock(member_id)
    pending = list(
        Event.objects.filter(member_id=member_id, status=Event.Status.PENDING)
        .select_related("partner")
        .order_by("occurred_at", "id")
    )
    state = ScoreState.objects.filter(member=member).first() or member_state_ensure(member=member)
    if not pending:
        return 0
    facts: list[EventFact] = selectors.facts_of(selectors.scored_events(member_id=member_id))
    profile = selectors.profile_facts(member=member)
    before = Snapshot.of(state)
    now = timezone.now()
    # Time first, in a row of its own, so that each event's row shows only that event's effect.
    as_of = max(state.as_of, scoring_date(now))
    ageing, current, _ = ageing_step(member=member, before=before, facts=facts, profile=profile,
                                     since=state.as_of, as_of=as_of)
    rows: list[ScoreChange] = [] if ageing is None else [ageing]
    for event in pending:
        fact = selectors.event_fact(event)
        facts.append(fact)
        result = compute_base(facts, profile, as_of=as_of)
        row, after = ledger_row(
            member=member, cause=ScoreChange.Cause.EVENT, before=current, result=result,
            social=current.social, event=event, explanation="",
        )
        row.explanation = event_explanation(fact, row.delta)
        rows.append(row)
        current = after
        event.status = Event.Status.SCORED
        event.scored_at = now
        event.attempts += 1
    Event.objects.bulk_update(pending, ["status", "scored_at", "attempts"])
    events_record(events=pending, type=WebhookType.EVENT_SCORED, status=Event.Status.SCORED,
                  members={member.pk: member})
    _state_write(member=member, before=before, after=current, rows=rows, as_of=as_of,
                 on_time=any_on_time(facts[len(facts) - len(pending):]))
    return len(pending)


@metrics.scoring_batch
def members_score_pending(*, member_ids: Iterable[int]) -> int:
    """Score each member's pending events, each member in its own transaction.

    A database that is down raises (the task retries); any other error is recorded on the
    member's pending events and retried by the sweeper, up to ``MAX_SCORING_ATTEMPTS``, after
    which they are marked failed (visible in the admin) — never dropped silently.
    """
    ids = sorted(set(member_ids))
    if len(ids) > 1:
        try:
            # One transaction and a handful of queries for the whole batch (DESIGN.md §11).
            return members_score_pending_bulk(member_ids=ids, announce=True)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            # Something in the batch is broken: fall back to one member at a time, so the
            # culprit's events are recorded as failing and everyone else is scored.
            logger.exception("batch scoring of %d members failed; retrying one by one", len(ids))
    applied = 0
    for member_id in ids:
        try:
            applied += member_score_pending(member_id=member_id)
        except (OperationalError, InterfaceError):
            raise
        except (DatabaseError, Exception) as exc:
            logger.exception("scoring member %s failed", member_id)
            events_record_failure(member_id=member_id, error=f"{type(exc).__name__}: {exc}")
    return applied


@transaction.atomic
def events_record_failure(*, member_id: int, error: str) -> None:
    pending = Event.objects.select_for_update().filter(member_id=member_id, status=Event.Status.PENDING)
    failed = []
    for event in pending:
        event.attempts += 1
        event.last_error = error[:LAST_ERROR_MAX_LENGTH]
        if event.attempts >= MAX_SCORING_ATTEMPTS:
            event.status = Event.Status.FAILED
            failed.append(event)
        event.save(update_fields=["attempts", "last_error", "status"])
    events_record(events=failed, type=WebhookType.EVENT_FAILED, status=Event.Status.FAILED)


@transaction.atomic
def events_retry(*, event_ids: Iterable[int]) -> int:
    """Put failed events back in the queue (an admin action)."""
    events = Event.objects.filter(pk__in=list(event_ids), status=Event.Status.FAILED)
    member_ids = sorted(set(events.values_list("member_id", flat=True)))
    count = events.update(status=Event.Status.PENDING, attempts=0, last_error="")
    if member_ids:
        enqueue_on_commit("scoring.ledger.tasks.score_members", member_ids)
    return count


@dataclass(frozen=True)
class Rescored:
    """What ``member_rescore`` did: the displayed score before and after (None before the
    first score), and whether anything was written."""

    old_score: int | None
    new_score: int | None
    changed: bool


@transaction.atomic
def member_rescore(*, member_id: int, cause: str, explanation: str, event: Event | None = None) -> Rescored:
    """Recompute the member's score from their scored events, profile and social points.

    Writes a ledger row with ``cause`` (pointing at ``event`` when given, e.g. a moderator's
    reversal) if anything moved. Friends follow through ``bases_changed``.
    """
    member = locks.member_lock(member_id)
    state = ScoreState.objects.filter(member=member).first()
    if state is None:
        state = member_state_ensure(member=member)
        return Rescored(None, state.score, True)
    # On the state's own date: the facts changed already (a reversal, a profile edit), so time
    # cannot be told apart from the cause here; the ageing sweep moves the date on its own row.
    result = compute_base(selectors.facts_of(selectors.scored_events(member_id=member_id)),
                          selectors.profile_facts(member=member), as_of=state.as_of)
    before = Snapshot.of(state)
    if result.base == before.base and factors_dict(result) == before.factors:
        return Rescored(before.score, before.score, False)
    new_score = total_score(result.base, before.social)
    text = f"{explanation}: {format_points(new_score - (before.score or new_score))}"
    row, after = ledger_row(member=member, cause=cause, before=before, result=result,
                            social=before.social, explanation=text, event=event)
    _state_write(member=member, before=before, after=after, rows=[row], as_of=state.as_of)
    return Rescored(before.score, after.score, True)


def pending_sweep(*, older_than_seconds: int = 60, chunk: int = 100) -> int:
    """Re-enqueue members with events still pending after ``older_than_seconds``, ``chunk``
    members per task.

    Recovers enqueues lost to a crash or a broker outage. Sends at once, outside any
    transaction: a send that fails fails the sweep, and beat runs it again. Returns how many
    members it sent.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    member_ids = sorted(
        set(
            Event.objects.filter(status=Event.Status.PENDING, received_at__lt=cutoff)
            .values_list("member_id", flat=True)
        )
    )
    for batch in chunks(member_ids, chunk):
        enqueue_now("scoring.ledger.tasks.score_members", list(batch))
    return len(member_ids)


def dirty_members_score(*, seconds: float = 5.0) -> int:
    """Score the members the API queued (``ingestion.dirty``), in batches, for up to ``seconds``.
    Returns how many events were applied.

    A batch smaller than ``dirty.BATCH`` emptied the set: the tick ends there, and members
    queued meanwhile wait for the next tick (a second) instead of being taken a few at a time
    in a tight loop — each batch costs a fixed dozen statements, its announcements and its
    follow-up tasks whatever its size, so a steady trickle of events is scored once a second in
    one batch. A backlog is still taken in full batches, one after the other, until the deadline."""
    applied = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        member_ids = dirty.members_take(dirty.BATCH)
        if not member_ids:
            break
        applied += members_score_pending(member_ids=member_ids)
        if len(member_ids) < dirty.BATCH:
            break
    return applied
