"""How Celery tasks that write retry, named once.

A task whose writes are idempotent retries when the database fails it transiently — a deadlock
or serialization failure (whichever cursor raised it: Django's wraps the driver's error, a raw
psycopg cursor raises the driver's own), a dropped connection, a pool with no connection to
give: a retry redoes nothing twice. Other errors are bugs or bad input and fail the task at once.
Work that must not be lost is also recorded in the database (the outboxes) and a periodic
sweeper completes it, so a task that runs out of retries delays that work, it never loses it.
"""

from __future__ import annotations

from typing import Any

from config.kernel.retry import DATABASE_ERRORS

#: Keyword arguments for ``@shared_task``: retry on a transient database failure, at most 8
#: times, each after a random wait in [0, min(30, 2^n)] s ("full jitter": two tasks that
#: deadlocked do not collide again in step) — 0–1, 0–2, 0–4, …, 0–30 s, about a minute in all.
RETRY_ON_DATABASE_ERRORS: dict[str, Any] = {
    "autoretry_for": DATABASE_ERRORS,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}


def retry_on(*errors: type[Exception]) -> dict[str, Any]:
    """``RETRY_ON_DATABASE_ERRORS`` that also retries these errors (transient ones of the
    task's own domain, e.g. friend contagion's ``ContagionConflict``)."""
    return {**RETRY_ON_DATABASE_ERRORS, "autoretry_for": (*DATABASE_ERRORS, *errors)}
