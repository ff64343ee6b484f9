"""Celery tasks of the scoring pipeline: thin, by ids, idempotent (DESIGN.md §6)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def contagion_bases_sync(member_ids: list[int]) -> int:
    """These members' bases moved (one scoring batch): fold them into friend contagion in one
    propagation, together with every member other tasks queued meanwhile (services mode,
    ``dirty.contagion_take``: a backlog becomes one batch). Returns how many members' social
    signal moved."""
    from django.conf import settings

    from scoring.contagion import services as contagion_services

    if settings.SERVICES_MODE:
        from scoring.ingestion.dirty import contagion_take

        member_ids = sorted(set(member_ids).union(contagion_take()))
    return contagion_services.contagion_bases_sync(member_ids=member_ids)


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def contagion_edges_sync(member_ids: list[int], explanation: str = "") -> int:
    """Friendships of these members changed (ended, private mode): apply the difference."""
    from scoring.contagion import services as contagion_services

    return len(contagion_services.contagion_edges_sync(members=member_ids, explanation=explanation).changes)


@shared_task(acks_late=True)
def contagion_tick() -> dict[str, int]:
    """Periodic: friendships that vested, and residuals left above ε (the budget's overflow)."""
    from scoring.contagion import services as contagion_services

    return contagion_services.contagion_tick()


@shared_task(acks_late=True)
def contagion_reconcile() -> dict[str, float]:
    """Nightly: the full sparse solve; logs the largest gap to the incremental state."""
    import logging

    from scoring.contagion import services as contagion_services

    result = contagion_services.contagion_rebuild()
    logging.getLogger(__name__).info("contagion reconcile: %s", result)
    return result

