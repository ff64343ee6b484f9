"""The request id of a Celery task, wherever the task runs.

In a worker, django-structlog's receivers carry the enqueuer's bound context (``request_id``,
``user_id``, the enqueuing task as ``parent_task_id``) in the task's headers and bind it before the
task runs. Two cases are ours:

* a task run in-process (embedded mode and the test suite: ``CELERY_TASK_ALWAYS_EAGER``) is never
  published, so there are no headers: :class:`ContextTask` hands the caller's context to the task
  and gives the caller its own back afterwards (the receivers clear the context for each task, and
  the request that ran the task must still log its own line with its own id);
* a task with nobody behind it (beat's sweepers and periodic work, a task sent from a shell) gets
  an id of its own, which the tasks it enqueues then carry.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import structlog
from celery import Task

#: The context of whoever runs a task in-process, while it runs.
_caller_context: ContextVar[dict[str, Any] | None] = ContextVar("credo_task_caller_context", default=None)


class ContextTask(Task):
    """Credo's task class: an in-process run inherits its caller's log context and leaves it be."""

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        saved = structlog.contextvars.get_contextvars()
        token = _caller_context.set(saved)
        try:
            return super().apply(*args, **kwargs)
        finally:
            _caller_context.reset(token)
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**saved)


def task_context_bind(new_id: str) -> None:
    """Bind a running task's ``request_id``: its caller's when it runs in-process, ``new_id``
    when nobody sent one (django-structlog has bound the worker's headers already)."""
    bound = structlog.contextvars.get_contextvars()
    if "request_id" in bound:
        return
    caller = _caller_context.get()
    if caller and "request_id" in caller:
        inherited = {k: v for k, v in caller.items() if k not in bound and k != "task_id"}
        if "task_id" in caller:
            inherited["parent_task_id"] = caller["task_id"]
        structlog.contextvars.bind_contextvars(**inherited)
    else:
        structlog.contextvars.bind_contextvars(request_id=new_id)
