"""Concurrent perk syncs on the real PostgreSQL, real threads (each its own connection).

The window between reading a member's open grants and writing new ones is widened with a sleep,
so two syncs certainly interleave when nothing serialises them. With the member row lock the
second sync finds nothing to do; without it, the partial unique constraint ``perk_held_once``
still refuses a second open grant, and the loser neither grants nor notifies.
"""

from __future__ import annotations

import importlib
import time

import pytest
from django.apps import apps as django_apps

from accounts.members.models import User
from accounts.notifications.models import Notification
from config.kernel import locks
from leaderboards.gamification import perks
from leaderboards.gamification.models import PerkGrant
from tests.factories import UserFactory
from tests.social.graph.test_races import run_together

pytestmark = [pytest.mark.django_db(transaction=True)]

WINDOW = 0.3


@pytest.fixture
def slow_window(monkeypatch):  # type: ignore[no-untyped-def]
    """Sleep after the open grants were read and before anything is written."""
    original = perks.reverse

    def slow_reverse(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(WINDOW)
        return original(*args, **kwargs)

    monkeypatch.setattr(perks, "reverse", slow_reverse)


@pytest.fixture
def no_row_lock(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(locks, "member_lock", lambda member_id: User.objects.get(pk=member_id))


@pytest.fixture(autouse=True)
def catalogue() -> None:
    # Transactional tests start from a flushed database: seed the examples as the migration does.
    importlib.import_module("leaderboards.migrations.0003_perk_examples").add_examples(django_apps, None)


def perk_texts(member: User) -> list[str]:
    return list(Notification.objects.filter(member=member, kind=Notification.Kind.PERK).values_list("text", flat=True))


@pytest.mark.parametrize("locks", ["with_row_lock", "without_row_lock"])
def test_concurrent_syncs_grant_once_and_notify_once(postgres, slow_window, request, locks):
    if locks == "without_row_lock":
        request.getfixturevalue("no_row_lock")
    alice = UserFactory(username="alice")
    User.objects.filter(pk=alice.pk).update(score=710)
    results = run_together(*[lambda: perks.perks_sync(member_id=alice.pk)] * 3)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(PerkGrant.objects.filter(member=alice, revoked_at__isnull=True)
                  .values_list("perk__slug", flat=True)) == ["deposit-free-rental", "priority-support"]
    assert PerkGrant.objects.filter(member=alice).count() == 2
    assert sorted(perk_texts(alice)) == ["You unlocked Deposit-free rental: your score 710 is at or above 650.",
                                         "You unlocked Priority support: your score 710 is at or above 700."]
    gained = [slug for r in results for slug in r.gained]
    assert sorted(gained) == ["deposit-free-rental", "priority-support"]


@pytest.mark.parametrize("locks", ["with_row_lock", "without_row_lock"])
def test_concurrent_syncs_revoke_once_and_notify_once(postgres, slow_window, request, locks):
    if locks == "without_row_lock":
        request.getfixturevalue("no_row_lock")
    alice = UserFactory(username="alice")
    User.objects.filter(pk=alice.pk).update(score=660)
    perks.perks_sync(member_id=alice.pk)
    User.objects.filter(pk=alice.pk).update(score=640)
    results = run_together(*[lambda: perks.perks_sync(member_id=alice.pk)] * 3)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert not PerkGrant.objects.filter(member=alice, revoked_at__isnull=True).exists()
    assert perk_texts(alice).count(
        "Your score fell to 640, below 650: Deposit-free rental is paused until you are back at 650") == 1
    assert [slug for r in results for slug in r.lost] == ["deposit-free-rental"]
