"""Celery tasks of the boards: thin, idempotent (a rebuild of the index, the weekly season
rollover, the nightly check of every board entry against the database)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from leaderboards.boards import check, index, services

logger = logging.getLogger(__name__)
#: Where the nightly reconcile leaves its figures (the cache).
RECONCILE_FIGURES = "reconcile.boards"


@shared_task(acks_late=True)
def rebuild_index() -> int:
    """Rebuild the Redis index from the database (the lock was taken by whoever asked)."""
    try:
        return services.index_rebuild().members
    finally:
        index.unlock_rebuild()


@shared_task(acks_late=True)
def season_rollover() -> int:
    """Periodic: open this week's season and close the ones that ended."""
    services.season_current()
    return services.seasons_close_ended()


@shared_task(acks_late=True)
def index_reconcile() -> dict[str, object]:
    """Nightly: compare every board entry with the database (``check.boards_check``); log the
    figures (``reconcile.boards`` in the cache: the last run's) and, when anything differs,
    rebuild the index from the database."""
    found = check.boards_check()
    figures = {**found.figures(), "at": timezone.now().isoformat()}
    cache.set(RECONCILE_FIGURES, figures, timeout=None)
    logger.log(logging.WARNING if found.differs else logging.INFO, "boards reconcile: %s",
               " ".join(f"{name}={value}" for name, value in figures.items()))
    if found.differs and index.enabled() and index.lock_rebuild():
        rebuild_index()
    return figures
