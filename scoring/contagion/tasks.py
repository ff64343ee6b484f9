"""Celery tasks of friend contagion: thin, by ids, idempotent (DESIGN.md §6); each calls one
service of ``scoring.contagion.services``."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from config.kernel.task_policy import retry_on
from scoring.contagion import services
from scoring.contagion.engine import ContagionConflict

#: Transient failures of contagion's writes: the database's (deadlocks included, whichever
#: cursor raised them) and a round that kept meeting concurrent friendship changes.
RETRY = retry_on(ContagionConflict)

logger = logging.getLogger(__name__)
#: Where the nightly reconcile leaves its figures (the cache).
RECONCILE_FIGURES = "reconcile.contagion"


@shared_task(acks_late=True, **RETRY)
def contagion_bases_sync(member_ids: list[int]) -> int:
    """These members' bases moved (one scoring batch): fold them into friend contagion in one
    propagation, together with every member other tasks queued meanwhile (services mode,
    ``services.contagion_backlog_sync``). Returns how many members' social signal moved."""
    return services.contagion_backlog_sync(member_ids=member_ids)


@shared_task(acks_late=True, **RETRY)
def contagion_edges_sync(member_ids: list[int], explanation: str = "") -> int:
    """Friendships of these members changed (ended, private mode): apply the difference."""
    return len(services.contagion_edges_sync(members=member_ids, explanation=explanation).changes)


@shared_task(acks_late=True)
def contagion_tick() -> dict[str, int]:
    """Periodic: friendships that vested, and residuals left above ε (the budget's overflow)."""
    return services.contagion_tick()


@shared_task(acks_late=True)
def contagion_reconcile() -> dict[str, float]:
    """Nightly: the full sparse solve. Logs what members had been shown against it — the largest
    social-points gap and the displayed scores it changed — as figures (``reconcile.contagion``
    in the cache: the last run's, for monitoring), and warns when they are off the bound."""
    result = services.contagion_rebuild()
    figures = {name: result[name] for name in ("members", "edges", "largest_points_gap", "points_bound",
                                               "scores_differ", "largest_score_gap", "scores_changed",
                                               "largest_gap", "bound")}
    cache.set(RECONCILE_FIGURES, {**figures, "at": timezone.now().isoformat()}, timeout=None)
    sound = figures["largest_points_gap"] <= figures["points_bound"] and not figures["scores_differ"]
    logger.log(logging.INFO if sound else logging.WARNING, "contagion reconcile: %s",
               " ".join(f"{name}={value}" for name, value in figures.items()))
    return result
