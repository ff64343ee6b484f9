"""Celery tasks of friend contagion: thin, by ids, idempotent (DESIGN.md §6); each calls one
service of ``scoring.contagion.services``."""

from __future__ import annotations

import logging

from celery import shared_task

from config.kernel.task_policy import RETRY_ON_DATABASE_ERRORS
from scoring.contagion import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def contagion_bases_sync(member_ids: list[int]) -> int:
    """These members' bases moved (one scoring batch): fold them into friend contagion in one
    propagation, together with every member other tasks queued meanwhile (services mode,
    ``services.contagion_backlog_sync``). Returns how many members' social signal moved."""
    return services.contagion_backlog_sync(member_ids=member_ids)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def contagion_edges_sync(member_ids: list[int], explanation: str = "") -> int:
    """Friendships of these members changed (ended, private mode): apply the difference."""
    return len(services.contagion_edges_sync(members=member_ids, explanation=explanation).changes)


@shared_task(acks_late=True)
def contagion_tick() -> dict[str, int]:
    """Periodic: friendships that vested, and residuals left above ε (the budget's overflow)."""
    return services.contagion_tick()


@shared_task(acks_late=True)
def contagion_reconcile() -> dict[str, float]:
    """Nightly: the full sparse solve; logs the largest gap to the incremental state."""
    result = services.contagion_rebuild()
    logger.info("contagion reconcile: %s", result)
    return result
