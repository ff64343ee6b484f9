"""How Celery tasks that write retry, named once.

A task whose writes are idempotent retries when the database is briefly away (a restart, a
dropped connection): a retry redoes nothing twice. Other errors are bugs or bad input and fail
the task at once.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError

#: Keyword arguments for ``@shared_task``: retry on a database that is down, backing off
#: 2, 4, 8, 16, 32 s, at most 5 times.
RETRY_ON_DATABASE_ERRORS: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "max_retries": 5,
}
