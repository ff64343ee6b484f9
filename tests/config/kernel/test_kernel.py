"""config.kernel: after-commit work, ordered member locks, chunks, and DomainError on the API."""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory

from config.kernel import after_commit, locks
from config.kernel.chunks import chunks
from config.kernel.errors import DomainError, NotFound, exception_handler
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_a_failing_callback_is_logged_by_name_and_the_next_still_runs(caplog):
    ran: list[str] = []

    def explode(word: str) -> None:
        raise RuntimeError(word)

    with caplog.at_level(logging.ERROR), transaction.atomic():
        after_commit.call_on_commit(explode, "boom")
        after_commit.call_on_commit(ran.append, "second")
        assert ran == []  # nothing before the commit
    assert ran == ["second"]
    assert any("explode" in record.getMessage() and record.exc_info for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_signal_is_sent_after_commit_and_never_on_rollback():
    signal = Signal()
    heard: list[dict] = []
    signal.connect(lambda sender, **kwargs: heard.append(kwargs), weak=False, dispatch_uid="kernel-test")
    try:
        with transaction.atomic():
            after_commit.send_on_commit(signal, sender=None, member_ids=[1])
            assert heard == []
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            after_commit.send_on_commit(signal, sender=None, member_ids=[2])
            1 / 0  # noqa: B018
    finally:
        signal.disconnect(dispatch_uid="kernel-test")
    assert heard == [{"signal": signal, "member_ids": [1]}]


def test_an_unknown_task_name_fails_in_the_caller():
    with pytest.raises(KeyError):
        after_commit.enqueue_on_commit("scoring.ledger.tasks.no_such_task", [1])


@pytest.mark.django_db
def test_members_are_locked_in_ascending_id_order_whatever_the_order_asked():
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = locks.members_lock([third.pk, first.pk, third.pk, second.pk])
        ids = locks.member_ids_lock([second.pk, first.pk])
    assert [m.pk for m in locked] == [first.pk, second.pk, third.pk]
    assert ids == [first.pk, second.pk]
    assert len(queries) == 2 and all("ORDER BY" in q["sql"] for q in queries)
    if connection.vendor == "postgresql":
        # NO KEY: a row that merely refers to the member (an event) is inserted without waiting.
        assert all("FOR NO KEY UPDATE" in q["sql"] for q in queries)


def test_chunks_keep_order_and_refuse_an_empty_size():
    assert [list(c) for c in chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError):
        list(chunks([1], 0))


def test_a_domain_error_is_the_apis_code_and_detail_with_its_status():
    request = APIRequestFactory().get("/api/v1/anything/")
    response = exception_handler(DomainError("Only friends.", code="not_friends", status=403), {"request": request})
    assert response is not None
    assert (response.status_code, response.data) == (403, {"code": "not_friends", "detail": "Only friends."})
    response = exception_handler(NotFound(), {"request": request})
    assert response is not None
    assert (response.status_code, response.data) == (404, {"code": "not_found", "detail": "Not found."})
