"""Celery tasks of moderation: thin, by ids (registered from ``scoring.apps``)."""

from __future__ import annotations

from celery import shared_task

from scoring.moderation import disputes, services


@shared_task(acks_late=True)
def members_unfreeze_expired() -> int:
    """Periodic: lift freezes whose end date passed."""
    return services.members_unfreeze_expired()


@shared_task(acks_late=True)
def disputes_resolve_unanswered() -> int:
    """Periodic: disputes the partner left unanswered past their deadline resolve in the member's favour."""
    return disputes.disputes_resolve_unanswered()
