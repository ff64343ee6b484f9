"""Celery tasks of moderation and data rights: thin, by ids (imported by ``scoring.apps``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def members_unfreeze_expired() -> int:
    """Periodic: lift freezes whose end date passed."""
    from scoring.moderation import services

    return services.members_unfreeze_expired()

