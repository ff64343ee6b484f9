"""Celery tasks of the webhooks: thin, by ids; each calls one function of ``delivery``."""

from __future__ import annotations

from celery import shared_task

from config.kernel.task_policy import RETRY_ON_DATABASE_ERRORS
from scoring.webhooks import delivery


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY_ON_DATABASE_ERRORS)
def webhooks_deliver(partner_id: int) -> int:
    """Send the partner's due webhooks in order (``delivery.webhooks_deliver``)."""
    return delivery.webhooks_deliver(partner_id=partner_id)


@shared_task(acks_late=True)
def webhooks_sweep() -> int:
    """Periodic (every 10 s): deliver for every partner whose oldest pending webhook is due."""
    return delivery.webhooks_sweep()
