"""Celery tasks of the ledger: thin, by ids, idempotent (DESIGN.md §6); each calls one service."""

from __future__ import annotations

from celery import shared_task

from config.kernel.task_policy import RETRY_ON_DATABASE_ERRORS
from scoring.ledger import ageing, follow_up, services
from scoring.ledger.models import ScoreChange


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY_ON_DATABASE_ERRORS)
def score_members(member_ids: list[int]) -> int:
    """Apply the pending events of these members (a batch: one task per request, not per event)."""
    return services.members_score_pending(member_ids=member_ids)


#: Events still pending this long after they were received lost their way to the scorer (a
#: Redis restart empties the set the API queues members in): the sweeper sends them again.
PENDING_AFTER_SECONDS = 20


@shared_task(acks_late=True)
def sweep_pending_events() -> int:
    """Periodic (every 10 s): re-enqueue events still pending after ``PENDING_AFTER_SECONDS``
    (lost enqueues, outages); a duplicate of a slow batch finds nothing left to do."""
    return services.pending_sweep(older_than_seconds=PENDING_AFTER_SECONDS)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def rescore_profile(member_id: int) -> bool:
    """The member's profile completeness changed: rescore them (a ledger row if it moved)."""
    return services.member_rescore(
        member_id=member_id, cause=ScoreChange.Cause.PROFILE, explanation="Profile completeness changed"
    ).changed


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def score_dirty_members(seconds: float = 5.0) -> int:
    """Periodic (every second, services mode): score the members the API queued, in batches,
    for up to ``seconds`` (``services.dirty_members_score``). Returns how many events were applied."""
    return services.dirty_members_score(seconds=seconds)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def age_scores() -> int:
    """Periodic (hourly; the work is done once a day): move every score to today's date, with a
    ledger row where time alone moved it (``ageing.ageing_sweep``). Returns the rows written."""
    return ageing.ageing_sweep()


@shared_task(acks_late=True)
def sweep_follow_ups() -> dict[str, int]:
    """Periodic (every ``follow_up.SWEEP_EVERY``): announce again the score changes whose
    follow-up (contagion, boards, live, gamification) was lost or failed."""
    return follow_up.follow_ups_sweep()
