"""Work that must wait until the current transaction commits.

A task sent from inside an open transaction can run before the rows it needs are visible, or
after they were rolled back; a signal sent inside one tells listeners about rows that may never
exist. Everything here defers to ``transaction.on_commit`` with ``robust=True``: a callback that
fails is logged and never fails the request that already committed, nor the callbacks after it.
Work that must not be lost besides has its own record in the same transaction (the event outbox,
the dirty-member sets) that a sweeper re-sends.

Tasks are named, not imported: a service that hands work to a task never imports the tasks
module that calls it back. Each app's ``AppConfig.ready`` imports its tasks modules, so every name
is registered by then, and an unknown name fails at once, in the caller. In embedded mode (no
REDIS_URL) Celery runs the task eagerly, i.e. in-process right after the commit. Names are looked
up on Credo's own Celery app (``config.celery``, which imports no app), not on Celery's "current"
app: any other ``Celery()`` made in the process would become current and send elsewhere.

Robust means a failing receiver or callback no longer fails the request or task that already
committed: Django logs it ("Error calling … in on_commit()") and goes on with the next callback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from config.celery import app

logger = logging.getLogger(__name__)


def enqueue_on_commit(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send the Celery task ``task_name`` (its module path and function name) after commit."""
    task = app.tasks[task_name]  # KeyError now, in the caller, for a name nobody registered

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            # The broker is down. Nothing is lost: the row that asked for this work is the
            # outbox, and a periodic sweeper re-sends what is still pending.
            logger.exception("could not enqueue %s; the sweeper will retry", task_name)

    transaction.on_commit(send, robust=True)


def enqueue_now(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send the Celery task ``task_name`` at once, for a caller that is itself the retry: the
    sweeper runs outside any transaction, and a send it cannot make must fail it (beat runs it
    again), not be logged away as if a sweeper would retry it."""
    app.tasks[task_name].apply_async(args=args, kwargs=kwargs)


def enqueue_in(seconds: float, task_name: str, /, *args: Any) -> None:
    """Send the Celery task ``task_name`` to run in ``seconds`` (a countdown), at once: for a
    retry the caller's own record (an outbox row) also keeps, so a sweeper sends it if this is
    lost. In embedded mode it runs at once, in-process (eager tasks have no countdown)."""
    app.tasks[task_name].apply_async(args=args, countdown=seconds)


def call_on_commit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call ``fn(*args, **kwargs)`` after commit (robust: a failure is logged, not raised)."""
    transaction.on_commit(_deferred(fn, *args, **kwargs), robust=True)


def send_on_commit(signal: Signal, /, *, sender: Any, **kwargs: Any) -> None:
    """Send a domain signal after commit (robust: a failing receiver is logged, not raised)."""
    transaction.on_commit(_deferred(signal.send, sender=sender, **kwargs), robust=True)


def send_robust(signal: Signal, /, *, sender: Any, **kwargs: Any) -> bool:
    """Send a domain signal now to every receiver; a receiver that fails is logged and the others
    still run. Returns whether every receiver succeeded: a caller that keeps a record of the work
    (an outbox row) clears it only then, and its sweeper sends again what failed."""
    ok = True
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            ok = False
            logger.error("receiver %s failed", getattr(receiver, "__qualname__", receiver),
                         exc_info=(type(response), response, response.__traceback__))
    return ok


def _deferred(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Callable[[], None]:
    """``fn`` with its arguments, named as ``fn``: Django names a failed robust callback by its
    ``__qualname__`` when it logs the failure (a bare ``functools.partial`` has none)."""

    @functools.wraps(fn)
    def deferred() -> None:
        fn(*args, **kwargs)

    return deferred
