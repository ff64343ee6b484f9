"""Celery tasks of the scoring pipeline: thin, by ids, idempotent (DESIGN.md §6)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from scoring.ledger import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def score_members(member_ids: list[int]) -> int:
    """Apply the pending events of these members (a batch: one task per request, not per event)."""
    return services.members_score_pending(member_ids=member_ids)


@shared_task(acks_late=True)
def sweep_pending_events() -> int:
    """Periodic: re-enqueue events still pending after a minute (lost enqueues, outages)."""
    return services.pending_sweep()


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def rescore_profile(member_id: int) -> bool:
    """The member's profile completeness changed: rescore them (a ledger row if it moved)."""
    from scoring.ledger.models import ScoreChange

    return services.member_rescore(
        member_id=member_id, cause=ScoreChange.Cause.PROFILE, explanation="Profile completeness changed"
    ).changed


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def score_dirty_members(seconds: float = 5.0) -> int:
    """Periodic (every second, services mode): score the members the API queued, in batches,
    for up to ``seconds``. Returns how many events were applied.

    A batch smaller than ``dirty.BATCH`` emptied the set: the tick ends there, and members
    queued meanwhile wait for the next tick (a second) instead of being taken a few at a time
    in a tight loop — each batch costs a fixed dozen statements, its announcements and its
    follow-up tasks whatever its size, so a steady trickle of events is scored once a second in
    one batch. A backlog is still taken in full batches, one after the other, until the deadline."""
    import time

    from scoring.ingestion.dirty import BATCH, members_take

    applied = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        member_ids = members_take(BATCH)
        if not member_ids:
            break
        applied += services.members_score_pending(member_ids=member_ids)
        if len(member_ids) < BATCH:
            break
    return applied

