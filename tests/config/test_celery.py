"""config.celery: a worker's task boundaries hand connections back to Django's pool, not close it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup
from django.db import connection

from config.celery import PoolKeepingWorkerFixup, app

PREFORK_WORKER = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
QUEUED_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def current_pool() -> Any:
    return cast(Any, connection).pool  # Django's psycopg pool (OPTIONS["pool"])


def checked_out_of(pool: Any) -> int:
    stats = pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


def run_one_task(fixup: DjangoWorkerFixup) -> None:
    fixup.on_task_prerun(sender=QUEUED_TASK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    fixup.on_task_postrun(sender=QUEUED_TASK)


def test_the_app_installs_the_pool_keeping_fixup():
    django_fixups = [fixup for fixup in app._fixups if isinstance(fixup, DjangoFixup)]
    assert len(django_fixups) == 1
    assert type(django_fixups[0].worker_fixup) is PoolKeepingWorkerFixup


@pytest.mark.django_db(transaction=True)
def test_task_boundaries_return_the_connection_and_keep_the_pool(postgres):
    assert connection.settings_dict["OPTIONS"]["pool"]
    fixup = PoolKeepingWorkerFixup(app)
    fixup.worker = PREFORK_WORKER
    connection.ensure_connection()
    pool = current_pool()
    checked_out = checked_out_of(pool)  # ours, and any that other code holds

    run_one_task(fixup)
    run_one_task(fixup)

    assert connection.connection is None  # handed back after the task
    assert current_pool() is pool
    assert not pool.closed
    assert checked_out_of(pool) == checked_out - 1  # ours is back in the pool, nothing else moved


@pytest.mark.django_db(transaction=True)
def test_celerys_own_fixup_still_closes_the_pool_at_every_task(postgres):
    """celery/celery#10554. When this fails, Celery has fixed it and PoolKeepingWorkerFixup can go."""
    fixup = DjangoWorkerFixup(app)
    fixup.worker = PREFORK_WORKER
    connection.ensure_connection()
    pool = current_pool()

    run_one_task(fixup)

    assert pool.closed
    assert current_pool() is not pool


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_at_the_next_task(postgres):
    """The kept pool must survive a PostgreSQL restart: with ``CONN_HEALTH_CHECKS`` (settings)
    Django's pool checks each connection as it leaves the pool, so a dead one is replaced, not
    handed to the next task."""
    import psycopg

    fixup = PoolKeepingWorkerFixup(app)
    fixup.worker = PREFORK_WORKER
    run_one_task(fixup)  # its connection waits in the pool
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432,
                         autocommit=True) as admin:  # what a restart does to every idle connection
        terminated = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'").fetchone()
    assert terminated is not None and terminated[0] >= 1
    run_one_task(fixup)  # no OperationalError: the pool handed out a live connection
