"""The Celery app. Workers: ``celery -A config worker`` (services mode, REDIS_URL set)."""

import contextlib
import os
from typing import Any

from celery import Celery
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class PoolKeepingWorkerFixup(DjangoWorkerFixup):
    """Celery's Django fixup, except that task boundaries keep Django's connection pool.

    Celery 5.7 closes the whole psycopg pool of a prefork child before and after every task
    (celery/celery#10554), so each task opened fresh PostgreSQL connections (several ms each
    here, DESIGN.md §11). Between tasks we only give the connections back to the pool; a child
    still closes the pool it inherited from the parent when it starts (``on_worker_process_init``,
    unchanged).
    """

    def close_database(self, **kwargs: Any) -> None:
        for conn in self._db.connections.all(initialized_only=True):
            with contextlib.suppress(*self.interface_errors):
                try:
                    conn.close()  # with a pool: back to it
                except self.DatabaseError as exc:
                    if "closed" not in str(exc) and "not connected" not in str(exc):
                        raise


class CredoDjangoFixup(DjangoFixup):
    """Celery's Django fixup with :class:`PoolKeepingWorkerFixup` for the worker side."""

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        # Made on first use, as Celery's own: it reads the app's configuration.
        if self._worker_fixup is None:  # type: ignore[has-type]
            self._worker_fixup = PoolKeepingWorkerFixup(self.app)
        return self._worker_fixup


def credo_django_fixup(app: Celery) -> DjangoFixup:
    """What ``celery.fixups.django.fixup`` installs here (settings module set, Django present)."""
    return CredoDjangoFixup(app).install()


# ContextTask: a task run in-process logs its caller's request id (config.logs.task_context).
app = Celery("credo", fixups=["config.celery:credo_django_fixup"], task_cls="config.logs.task_context:ContextTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# A worker logs one line per task with the request id its enqueuer sent (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)
# Tasks live with their concern (``scoring.ledger.tasks``, ``leaderboards.gamification.tasks``, …):
# each app's ``AppConfig.ready`` imports its tasks modules, so no autodiscovery is needed.
