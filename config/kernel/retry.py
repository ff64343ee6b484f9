"""Transient failures, told apart from bugs, and retried a bounded number of times with jitter.

Transient: the database broke a lock conflict (a deadlock, a serialization failure, a lock it
would not wait for) or lost the connection (a restart, ``pg_terminate_backend``, a pool that
found no connection in time). Redoing the same work a moment later succeeds. Everything else is
a bug or bad input and is raised at once.

The error may come from Django's cursor (``django.db.OperationalError`` wrapping the driver's)
or from a raw psycopg cursor (``psycopg.errors.DeadlockDetected``); both are recognised, by the
SQLSTATE wherever the driver's error sits in the chain. ``retrying`` redoes a whole unit of work
(a transaction, never a statement inside one); Celery tasks retry by ``task_policy``.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import psycopg
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: SQLSTATEs of a lock conflict: deadlock detected, serialization failure, lock not available.
LOCK_CONFLICTS = {"40P01": "deadlock", "40001": "serialization", "55P03": "lock_not_available"}
#: SQLSTATE classes and codes of a lost connection: connection exceptions (08…), and the server
#: ending the session (57P01 admin shutdown — ``pg_terminate_backend`` —, 57P02, 57P03).
CONNECTION_LOST_CLASSES = ("08",)
CONNECTION_LOST = {"57P01", "57P02", "57P03"}
#: The driver-level errors of a transient failure (a pool timeout is a psycopg OperationalError).
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, psycopg.OperationalError,
                                                psycopg.InterfaceError)

#: How many transient failures this process retried, by kind ("deadlock", "connection", …):
#: what the fault-injection run (bench/chaos.py) and the tests read.
retried: Counter[str] = Counter()


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of the database error in ``exc``'s chain, if any."""
    for link in _chain(exc):
        code = getattr(link, "sqlstate", None)
        if code:
            return str(code)
    return None


def kind(exc: BaseException) -> str | None:
    """``"deadlock"``, ``"serialization"``, ``"lock_not_available"``, ``"connection"`` — or None
    when ``exc`` is not transient."""
    code = sqlstate(exc)
    if code in LOCK_CONFLICTS:
        return LOCK_CONFLICTS[code]
    if code and (code in CONNECTION_LOST or code.startswith(CONNECTION_LOST_CLASSES)):
        return "connection"
    if code is None and any(isinstance(link, DATABASE_ERRORS) for link in _chain(exc)):
        # No SQLSTATE: the driver never reached the server (closed connection, pool timeout).
        return "connection"
    return None


def is_lock_conflict(exc: BaseException) -> bool:
    return kind(exc) in LOCK_CONFLICTS.values()


def is_transient(exc: BaseException) -> bool:
    return kind(exc) is not None


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): "full jitter", uniform in
    [0, min(cap, base·2^attempt)], so retries of writers that collided spread apart."""
    return random.uniform(0.0, min(cap, base * 2 ** attempt))


def retrying(work: Callable[[], T], *, attempts: int = 5, base: float = 0.05, cap: float = 1.0,
             when: Callable[[BaseException], bool] = is_transient, what: str = "") -> T:
    """``work()``, redone up to ``attempts`` times in all while it fails transiently (``when``),
    waiting ``backoff`` between tries; the last failure is raised. ``work`` must be a whole unit
    (its own transaction): inside an open transaction it runs once, as the transaction is lost.
    A connection found dead is dropped before the next try, so the retry gets a fresh one."""
    for attempt in range(attempts):
        try:
            return work()
        except Exception as exc:
            name = kind(exc)
            if not when(exc) or attempt == attempts - 1 or connection.in_atomic_block or name is None:
                raise
            retried[name] += 1
            logger.warning("retrying %s after a transient %s (attempt %d of %d): %s", what or work, name,
                           attempt + 2, attempts, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if name == "connection":
                connection.close_if_unusable_or_obsolete()
            time.sleep(backoff(attempt, base=base, cap=cap))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
