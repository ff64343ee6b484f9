"""Celery tasks of members' data rights: thin, by ids (imported by ``accounts.apps``)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from accounts.privacy import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def data_export_build(export_id: int) -> str:
    """Build a member's data export file. Other errors mark it failed (the member may retry)."""
    try:
        return services.data_export_build(export_id=export_id).status
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("data export %s failed", export_id)
        services.data_export_fail(export_id=export_id)
        return "failed"


@shared_task(acks_late=True)
def data_exports_expire() -> int:
    """Periodic: delete export files older than a day."""
    return services.data_exports_expire()
