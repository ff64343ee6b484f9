"""Challenge race guards, on the real PostgreSQL with real threads (cf. tests/social/graph/test_races.py).

A sleep inside each service's check-then-write window makes the threads interleave. The
``*_without_*`` tests switch a guard off: the conditional update still holds a double accept; the
ones that need the row locks are ``xfail(strict)`` (the suite fails if they pass), and there the
threads meet at a barrier at the point the race needs, so they fail whatever the machine's load
(no sleep, no luck): with the locks on, the second thread could not reach that point at all.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db.models import QuerySet

from accounts.notifications.models import Notification
from config.kernel import locks
from leaderboards.gamification import challenges
from leaderboards.gamification.challenges import ChallengeError
from leaderboards.gamification.models import Challenge, ChallengeParticipant
from tests.leaderboards.conftest import befriend, member
from tests.social.graph.test_races import WINDOW, run_together

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cast(postgres):  # type: ignore[no-untyped-def]
    people = {name: member(name, score) for name, score in (("alice", 700), ("bob", 650), ("dave", 640))}
    befriend(people["alice"], people["bob"])
    befriend(people["alice"], people["dave"])
    befriend(people["bob"], people["dave"])  # challenged together: friends with each other too
    return people


@pytest.fixture
def slow_checks(monkeypatch):  # type: ignore[no-untyped-def]
    """Widen the window between the services' reads and their writes."""
    original = challenges._check_cap

    def check_cap(member_id: int) -> None:
        time.sleep(WINDOW)
        original(member_id)

    monkeypatch.setattr(challenges, "_check_cap", check_cap)


@pytest.fixture
def no_row_locks(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(locks, "member_ids_lock", lambda ids: [])
    monkeypatch.setattr(challenges, "_lock_challenge", lambda pk: Challenge.objects.get(pk=pk))


def _meet_once(barrier: threading.Barrier, met: threading.local) -> None:
    """Each thread's first call waits until the other thread makes its own."""
    if not getattr(met, "done", False):
        met.done = True
        barrier.wait()


@pytest.fixture
def checks_meet(monkeypatch):  # type: ignore[no-untyped-def]
    """Without the row locks only: both threads have passed the cap check before either writes."""
    barrier, met = threading.Barrier(2, timeout=60), threading.local()
    original = challenges._check_cap

    def check_cap(member_id: int) -> None:
        original(member_id)
        _meet_once(barrier, met)

    monkeypatch.setattr(challenges, "_check_cap", check_cap)


@pytest.fixture
def answers_meet(monkeypatch):  # type: ignore[no-untyped-def]
    """Without the row locks only: both threads have written their own answer before either
    starts the challenge (whose start rewrites every participant's row, the other's too)."""
    barrier, met = threading.Barrier(2, timeout=60), threading.local()
    original = QuerySet.update

    def update(self: QuerySet, **kwargs: Any) -> int:
        count = original(self, **kwargs)
        if self.model is ChallengeParticipant and "answer" in kwargs:
            _meet_once(barrier, met)
        return count

    monkeypatch.setattr(QuerySet, "update", update)


def accepted_news(user) -> list[str]:  # type: ignore[no-untyped-def]
    return list(Notification.objects.filter(member=user, text__contains="accepted").values_list("text", flat=True))


def test_a_double_accept_answers_once(cast, slow_checks):
    challenge = challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"]])
    accept = lambda: challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True)  # noqa: E731
    assert sorted(run_together(accept, accept)) == [False, True]
    assert accepted_news(cast["alice"]) == ["bob accepted your challenge: it has started."]
    challenge.refresh_from_db()
    assert challenge.status == "active"


def test_a_double_accept_without_row_locks_still_answers_once(cast, slow_checks, no_row_locks):
    """The conditional UPDATE ... WHERE answer = 'invited' alone decides who answered."""
    challenge = challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"]])
    accept = lambda: challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True)  # noqa: E731
    assert sorted(run_together(accept, accept)) == [False, True]
    assert accepted_news(cast["alice"]) == ["bob accepted your challenge: it has started."]


def test_two_friends_accepting_at_once_start_it_once(cast, slow_checks):
    challenge = challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"], cast["dave"]])
    results = run_together(
        lambda: challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True),
        lambda: challenges.challenge_answer(challenge=challenge, member=cast["dave"], accept=True),
    )
    assert results == [True, True]
    challenge.refresh_from_db()
    assert challenge.status == "active"
    assert sorted(ChallengeParticipant.objects.filter(challenge=challenge).values_list(
        "member__username", "answer", "start_score", "points")) == [
        ("alice", "accepted", 700, 0), ("bob", "accepted", 650, 0), ("dave", "accepted", 640, 0)]
    news = sorted(accepted_news(cast["alice"]))
    assert len(news) == 2 and sum(text.endswith("it has started.") for text in news) == 1


@pytest.mark.xfail(strict=True, reason="without the challenge row lock the two first acceptances deadlock")
def test_two_friends_accepting_at_once_without_row_locks(cast, answers_meet, no_row_locks):
    challenge = challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"], cast["dave"]])
    results = run_together(
        lambda: challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True),
        lambda: challenges.challenge_answer(challenge=challenge, member=cast["dave"], accept=True),
    )
    assert results == [True, True]


def test_the_cap_holds_under_concurrent_creates(cast, slow_checks, monkeypatch):
    monkeypatch.setattr(challenges, "MAX_LIVE_CHALLENGES", 1)
    create = lambda: challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"]])  # noqa: E731
    results = run_together(create, create)
    assert sorted(type(r).__name__ for r in results) == ["Challenge", "ChallengeError"]
    assert next(r for r in results if isinstance(r, ChallengeError)).code == "too_many_challenges"
    assert Challenge.objects.count() == 1


@pytest.mark.xfail(strict=True, reason="without the member row locks both creates pass the cap")
def test_the_cap_without_row_locks(cast, checks_meet, no_row_locks, monkeypatch):
    monkeypatch.setattr(challenges, "MAX_LIVE_CHALLENGES", 1)
    create = lambda: challenges.challenge_create(by=cast["alice"], opponents=[cast["bob"]])  # noqa: E731
    run_together(create, create)
    assert Challenge.objects.count() == 1
