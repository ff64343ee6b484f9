"""The one way services hand work to Celery: after the current transaction commits.

A task sent from inside an open transaction can run before the rows it needs are visible, or
after they were rolled back. ``enqueue_on_commit`` defers the send to ``on_commit``; in embedded
mode (no REDIS_URL) Celery runs the task eagerly, i.e. in-process right after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            # The broker is down. Nothing is lost: the row that asked for this work is the
            # outbox, and a periodic sweeper re-sends what is still pending.
            logger.exception("could not enqueue %s; the sweeper will retry", task.name)

    transaction.on_commit(send, robust=True)
