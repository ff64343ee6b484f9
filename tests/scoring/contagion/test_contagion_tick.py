"""``contagion_tick`` applies friendships as they vest, looking only at those whose vesting moment
fell since its last run (``ContagionGraph.vested_through``); the first tick compares everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scoring.contagion import services as contagion_services
from scoring.contagion.models import ContagionEdge, ContagionGraph
from scoring.ledger import services
from social.graph import services as social

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def befriend(a, b) -> None:
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    social.friend_request_accept(request=sent.request, by=b)


def applied() -> set[tuple[int, int]]:
    return set(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))


@pytest.fixture
def friends(alice, bob, carol, settings, django_capture_on_commit_callbacks):
    settings.CONTAGION_VESTING = WEEK
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        for member in (alice, bob, carol):
            services.member_state_ensure(member=member)
        befriend(alice, bob)
    with time_machine.travel(T0 + timedelta(days=3), tick=False), django_capture_on_commit_callbacks(execute=True):
        befriend(bob, carol)
    return alice, bob, carol


def tick_at(moment: datetime) -> dict[str, int]:
    with time_machine.travel(moment, tick=False):
        return contagion_services.contagion_tick()


def test_friendships_are_applied_by_the_first_tick_after_they_vest(friends) -> None:
    alice, bob, carol = friends
    ContagionGraph.objects.filter(pk=1).update(vested_through=None)
    assert tick_at(T0 + WEEK - timedelta(seconds=1))["edges_changed"] == 0  # first tick: the whole graph
    assert applied() == set()
    assert ContagionGraph.objects.get(pk=1).vested_through == T0 + WEEK - timedelta(seconds=1)
    tick_at(T0 + WEEK + timedelta(seconds=9))  # windowed from here on
    assert applied() == {(min(alice.pk, bob.pk), max(alice.pk, bob.pk))}
    tick_at(T0 + WEEK + timedelta(seconds=19))
    assert len(applied()) == 1  # bob–carol vests three days later
    tick_at(T0 + timedelta(days=10, seconds=5))
    assert applied() == {(min(alice.pk, bob.pk), max(alice.pk, bob.pk)), (min(bob.pk, carol.pk), max(bob.pk, carol.pk))}


def test_a_tick_after_an_outage_catches_up_on_everything_that_vested_meanwhile(friends) -> None:
    ContagionGraph.objects.update_or_create(pk=1, defaults={"vested_through": T0 + timedelta(days=1)})
    tick_at(T0 + timedelta(days=30))  # the beat was down for four weeks
    assert len(applied()) == 2


def test_a_tick_looks_only_at_its_window(friends) -> None:
    # bob–alice vested at T0 + 7 days, long before the last tick: not this tick's business (the
    # friendship's own task or the nightly rebuild applies such an edge), so it is not re-read.
    ContagionGraph.objects.update_or_create(pk=1, defaults={"vested_through": T0 + timedelta(days=9)})
    tick_at(T0 + timedelta(days=9, seconds=10))
    assert applied() == set()
