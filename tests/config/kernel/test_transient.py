"""config.kernel: the lock order checked as it is taken, transient failures told apart and retried
(whichever cursor raised them), the tasks' retry policy, and a database briefly away as a 503."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from django.db import DataError, OperationalError, connection, transaction
from django.test import RequestFactory

from config.kernel import locks, retry, task_policy
from config.kernel.bulk_sql import bulk_cursor
from config.kernel.unavailable import DatabaseUnavailableMiddleware
from scoring.contagion.engine import ContagionConflict
from scoring.contagion.models import ContagionNode
from scoring.ledger.models import ScoreState
from tests.factories import UserFactory


def deadlock() -> OperationalError:
    """What Django's cursor raises for a deadlock: its OperationalError over the driver's error."""
    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected")
    except psycopg.Error as exc:
        try:
            raise OperationalError(str(exc)) from exc
        except OperationalError as wrapped:
            return wrapped


def failing(calls: list[int], exc: Exception) -> None:
    calls.append(1)
    raise exc


# --- one lock order ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_step_back_in_the_lock_order_raises_at_once():
    member = UserFactory()
    with pytest.raises(locks.LockOrderError, match="members locked after contagion rows"), transaction.atomic():
        locks.rows_lock(ContagionNode, [member.pk], level=locks.CONTAGION)
        locks.member_lock(member.pk)


@pytest.mark.django_db
def test_the_order_holds_per_transaction_and_allows_the_same_level_again():
    first, second = UserFactory(), UserFactory()
    with transaction.atomic():
        locks.member_ids_lock([second.pk])
        locks.member_ids_lock([first.pk])  # the same level again (its own ids: the caller's risk)
        locks.rows_lock(ScoreState, [first.pk], level=locks.SCORE_STATES)
        locks.rows_lock(ContagionNode, [first.pk], level=locks.CONTAGION)
    # A new transaction starts from the bottom again.
    with transaction.atomic():
        locks.rows_lock(ContagionNode, [first.pk], level=locks.CONTAGION)
    with transaction.atomic():
        locks.member_lock(first.pk)


def test_locks_outside_a_transaction_are_refused():
    with pytest.raises(locks.LockOrderError, match=r"inside transaction\.atomic"):
        locks.level_enter(locks.MEMBERS)


@pytest.mark.django_db
def test_many_rows_are_locked_with_one_binary_array(postgres, monkeypatch):
    members = [UserFactory() for _ in range(3)]
    monkeypatch.setattr(locks, "BIND_AS_TEXT", 1)
    with transaction.atomic():
        locks.rows_lock(type(members[0]), [m.pk for m in reversed(members)], level=locks.MEMBERS)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND granted")
            assert cursor.fetchone()[0] >= 1  # rows locked: this transaction has an id now


# --- transient failures --------------------------------------------------------------------------


def test_a_deadlock_is_transient_whichever_cursor_raised_it():
    raw = psycopg.errors.DeadlockDetected("deadlock detected")
    assert retry.kind(raw) == "deadlock"
    assert retry.kind(deadlock()) == "deadlock"
    assert retry.kind(psycopg.errors.SerializationFailure("could not serialize")) == "serialization"
    assert retry.kind(psycopg.errors.AdminShutdown("terminating connection")) == "connection"
    assert retry.kind(OperationalError("couldn't get a connection after 3.00 sec")) == "connection"
    assert retry.kind(psycopg.errors.UniqueViolation("duplicate key")) is None
    assert retry.kind(ValueError("a bug")) is None
    assert retry.is_lock_conflict(deadlock()) and not retry.is_lock_conflict(OperationalError("gone"))


@pytest.mark.django_db
def test_a_raw_psycopg_cursor_raises_djangos_errors(postgres):
    with pytest.raises(DataError), transaction.atomic(), bulk_cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


def test_retrying_redoes_transient_failures_a_bounded_number_of_times(monkeypatch):
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    calls: list[int] = []

    def twice_then_done() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise deadlock()
        return "done"

    before = retry.retried["deadlock"]
    assert retry.retrying(twice_then_done) == "done"
    assert len(calls) == 3 and retry.retried["deadlock"] == before + 2

    calls.clear()
    with pytest.raises(OperationalError):
        retry.retrying(lambda: failing(calls, deadlock()), attempts=4)
    assert len(calls) == 4

    calls.clear()
    with pytest.raises(ValueError):
        retry.retrying(lambda: failing(calls, ValueError("a bug")))
    assert len(calls) == 1


@pytest.mark.django_db
def test_retrying_inside_an_open_transaction_runs_once(monkeypatch):
    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    calls: list[int] = []
    with pytest.raises(OperationalError), transaction.atomic():
        retry.retrying(lambda: failing(calls, deadlock()))
    assert len(calls) == 1  # the transaction is lost: only its owner can redo it


def test_the_backoff_is_jittered_and_capped():
    waits = [retry.backoff(attempt, base=0.05, cap=1.0) for attempt in range(12) for _ in range(20)]
    assert all(0.0 <= wait <= 1.0 for wait in waits)
    assert len(set(waits)) > 200


def test_tasks_retry_deadlocks_from_any_cursor_with_jitter_and_a_bound():
    from scoring.contagion import tasks as contagion_tasks
    from scoring.ledger import tasks as ledger_tasks

    policy = task_policy.RETRY_ON_DATABASE_ERRORS
    assert psycopg.OperationalError in policy["autoretry_for"] and OperationalError in policy["autoretry_for"]
    assert isinstance(psycopg.errors.DeadlockDetected("x"), policy["autoretry_for"])
    assert policy["retry_jitter"] and policy["max_retries"] <= 10 and policy["retry_backoff_max"] <= 60
    for task in (contagion_tasks.contagion_bases_sync, contagion_tasks.contagion_edges_sync):
        assert ContagionConflict in task.autoretry_for and psycopg.OperationalError in task.autoretry_for
    assert psycopg.OperationalError in ledger_tasks.score_members.autoretry_for


# --- a database briefly away ---------------------------------------------------------------------


def test_a_database_briefly_away_is_a_503_with_retry_after():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    request = RequestFactory().post("/api/v1/events/")
    response = middleware.process_exception(request, OperationalError("couldn't get a connection after 3.00 sec"))
    assert response is not None and response.status_code == 503
    assert response["Retry-After"] == "2"
    assert json.loads(response.content)["code"] == "service_unavailable"
    page = middleware.process_exception(RequestFactory().get("/dashboard/"), deadlock())
    assert page is not None and page.status_code == 503 and page["Retry-After"] == "2"
    assert middleware.process_exception(request, ValueError("a bug")) is None  # still a 500


@pytest.mark.django_db(transaction=True)
def test_after_connection_loss_the_pool_hands_out_a_live_connection_at_once(postgres):
    """Every idle connection dead (a restart, pg_terminate_backend): psycopg's pool alone would
    try them one by one, 1, 2, 4 … s apart; ours drops them all at the first failed check."""
    pool = connection.pool
    assert pool is not None
    connection.close()
    taken = [pool.getconn() for _ in range(4)]
    for conn in taken:
        pool.putconn(conn)
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432,
                         autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
                               ).fetchone()
    assert killed is not None and killed[0] >= 4
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert time.monotonic() - started < 0.9
