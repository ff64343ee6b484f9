"""Celery tasks of the boards: thin, idempotent (a rebuild of the index, the weekly season rollover)."""

from __future__ import annotations

from celery import shared_task

from leaderboards.boards import index, services


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

