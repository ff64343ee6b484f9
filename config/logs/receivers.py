"""What our request and task lines carry, through django-structlog's signals: a request's
duration, not its user agent (it describes a member's device); a task's request id."""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest
from django_structlog import signals
from django_structlog.celery import signals as celery_signals
from django_structlog.celery.receivers import CeleryReceiver

from config.logs.middleware import request_id_new
from config.logs.task_context import task_context_bind


@receiver(signals.bind_extra_request_metadata)
def request_started(request: HttpRequest, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    request._log_started = time.perf_counter()  # type: ignore[attr-defined]
    log_kwargs.pop("user_agent", None)


@receiver(signals.bind_extra_request_finished_metadata)
def request_finished(request: HttpRequest, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    started = getattr(request, "_log_started", None)
    if started is not None:
        log_kwargs["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)


@receiver(celery_signals.bind_extra_task_metadata)
def task_started(task: Any, **kwargs: Any) -> None:
    structlog.contextvars.bind_contextvars(task=task.name)  # every line of the task names it
    task_context_bind(request_id_new())


#: In-process tasks (embedded mode, the suite) are run by this process: it logs their lines, as a
#: worker does through django-structlog's boot step (config.celery). Kept here so it is not
#: garbage-collected (signals hold their receivers weakly).
_in_process_receiver: CeleryReceiver | None = None
if settings.CELERY_TASK_ALWAYS_EAGER:
    _in_process_receiver = CeleryReceiver()
    _in_process_receiver.connect_worker_signals()
