"""Badges awarded concurrently, on the real PostgreSQL with real threads (each its own connection).

Each thread holds its transaction open for ``WINDOW`` after its INSERT (a slow ``notify``), so the
two certainly overlap: the second INSERT waits on the first's unique-index entry, fails once the
first commits, and its savepoint turns that into "held already". Exactly one award, one
notification, one push.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from accounts.notifications.models import Notification
from leaderboards.gamification import badges
from leaderboards.gamification.models import BadgeAward
from social.graph.models import Friendship, ordered_pair
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

WINDOW = 0.3  # seconds each thread keeps its transaction open after its INSERT


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait()
            return call()
        except Exception as exc:  # returned for the test to inspect
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def slow_notify(monkeypatch):  # type: ignore[no-untyped-def]
    original = badges.notify

    def notify(**kwargs):  # type: ignore[no-untyped-def]
        time.sleep(WINDOW)
        return original(**kwargs)

    monkeypatch.setattr(badges, "notify", notify)


@pytest.fixture
def pushes(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[int] = []
    lock = threading.Lock()

    def push(*, member_id: int, payload: dict) -> None:
        with lock:
            sent.append(member_id)

    monkeypatch.setattr(badges, "member_push", push)
    return sent


def test_two_concurrent_awards_make_one(postgres, slow_notify, pushes) -> None:  # type: ignore[no-untyped-def]
    alice = UserFactory(username="alice")

    def award() -> BadgeAward | None:
        return badges.badge_award(member_id=alice.pk, badge=badges.ONE_YEAR, explanation="x")

    results = run_together(award, award, award)
    assert sorted(type(r).__name__ for r in results) == ["BadgeAward", "NoneType", "NoneType"]
    assert BadgeAward.objects.filter(member=alice).count() == 1
    assert Notification.objects.filter(member=alice).count() == 1
    assert pushes == [alice.pk]


def test_two_concurrent_evaluations_award_once(postgres, slow_notify, pushes) -> None:  # type: ignore[no-untyped-def]
    """Both read "not held" before either commits (the pre-check cannot guard this race):
    the constraint decides."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    a, b = ordered_pair(alice.pk, bob.pk)
    Friendship.objects.create(member_a_id=a, member_b_id=b)

    def evaluate() -> list[BadgeAward]:
        return badges.badges_evaluate(member_id=alice.pk, families=[badges.SOCIAL])

    first, second = run_together(evaluate, evaluate)
    assert sorted([len(first), len(second)]) == [0, 1]
    assert list(BadgeAward.objects.filter(member=alice).values_list("badge", flat=True)) == ["first_friend"]
    assert Notification.objects.filter(member=alice, kind="badge").count() == 1
    assert pushes == [alice.pk]
