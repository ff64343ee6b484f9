"""Celery tasks of members' data rights: thin, by ids (imported by ``accounts.apps``)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from accounts.privacy import services
from config.kernel.task_policy import RETRY_ON_DATABASE_ERRORS

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, **RETRY_ON_DATABASE_ERRORS)
def data_export_build(export_id: int) -> str:
    """Build a member's data export file. Other errors mark it failed (the member may retry)."""
    try:
        return services.data_export_build(export_id=export_id).status
    except (OperationalError, InterfaceError):  # the database is away: RETRY_ON_DATABASE_ERRORS retries
        raise
    except Exception:
        logger.exception("data export %s failed", export_id)
        services.data_export_fail(export_id=export_id)
        return "failed"


@shared_task(acks_late=True)
def data_exports_expire() -> int:
    """Periodic: delete export files older than a day."""
    return services.data_exports_expire()
