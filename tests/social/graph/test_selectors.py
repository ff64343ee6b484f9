from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from social.graph import selectors, services
from social.graph.limits import SUGGESTIONS_LIMIT
from tests.factories import UserFactory
from tests.social.conftest import befriend

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
TICK = timedelta(microseconds=1)


def pair(x, y):  # type: ignore[no-untyped-def]
    return tuple(sorted([x.pk, y.pk]))


def contagion_edges(now=None):  # type: ignore[no-untyped-def]
    """The pairs ``friendships_active_for_contagion`` counts at ``now``, sorted."""
    rows = selectors.friendships_active_for_contagion(now=now).values_list("member_a_id", "member_b_id")
    return sorted(rows)


@pytest.fixture
def world_at_t0(alice, bob, carol, mallory):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        befriend(alice, bob)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        befriend(bob, carol)
    return alice, bob, carol, mallory


def test_contagion_edges_at_the_boundary(world_at_t0):
    alice, bob, carol, _ = world_at_t0
    assert contagion_edges(T0 + WEEK - TICK) == []
    assert contagion_edges(T0 + WEEK) == [pair(alice, bob)]
    day8 = T0 + timedelta(days=8)
    assert contagion_edges(day8 - TICK) == [pair(alice, bob)]
    assert contagion_edges(day8) == sorted([pair(alice, bob), pair(bob, carol)])


def test_contagion_edges_default_to_now_and_follow_the_setting(world_at_t0, settings):
    alice, bob, _, _ = world_at_t0
    with time_machine.travel(T0 + timedelta(days=2, hours=12), tick=False):
        assert contagion_edges() == []
        settings.CONTAGION_VESTING = timedelta(days=2)
        assert contagion_edges() == [pair(alice, bob)]


def test_private_mode_inactive_and_ended_friendships_are_not_edges(world_at_t0):
    alice, bob, carol, _ = world_at_t0
    later = T0 + timedelta(days=30)
    carol.private_mode = True
    carol.save()
    assert contagion_edges(later) == [pair(alice, bob)]
    alice.is_active = False
    alice.save()
    assert contagion_edges(later) == []
    carol.private_mode = False
    carol.save()
    alice.is_active = True
    alice.save()
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        services.friendship_unfriend(member=alice, username="bob")
    assert contagion_edges(later) == [pair(bob, carol)]
    # Point in time: before it ended, the alice–bob edge counted.
    assert contagion_edges(T0 + timedelta(days=19)) == sorted([pair(alice, bob), pair(bob, carol)])


def test_friends_list_with_scores_bands_and_vesting(world_at_t0):
    alice, bob, _carol, _ = world_at_t0
    alice.score, alice.score_band = 712, "Excellent"
    alice.save()
    friends = selectors.friends_of(member=bob)
    assert [(f.username, f.score, f.band, f.since, f.vests_at, f.private) for f in friends] == [
        ("alice", 712, "Excellent", T0, T0 + WEEK, False),
        ("carol", None, None, T0 + timedelta(days=1), T0 + timedelta(days=8), False),
    ]
    alice.private_mode = True
    alice.save()
    assert next((f.username, f.score, f.band, f.private) for f in selectors.friends_of(member=bob)) == (
        "alice", None, None, True
    )


def test_friends_list_is_one_query(world, django_assert_num_queries):
    for n in range(5):
        befriend(world.bob, UserFactory(username=f"extra{n}"))
    with django_assert_num_queries(1):
        assert len(selectors.friends_of(member=world.bob)) == 7


def test_suggestions_rank_by_mutual_friends_and_exclude(world):
    alice, bob, carol, mallory = world.alice, world.bob, world.carol, world.mallory
    dave, erin, frank, gina, hank = (UserFactory(username=n) for n in ["dave", "erin", "frank", "gina", "hank"])
    # alice's friends: bob, dave. Friends of friends: carol (via bob), erin (via bob and dave),
    # frank (via dave), gina (via bob, private), hank (via bob, blocked alice).
    befriend(alice, dave)
    befriend(bob, erin)
    befriend(dave, erin)
    befriend(dave, frank)
    befriend(bob, gina)
    befriend(bob, hank)
    gina.private_mode = True
    gina.save()
    services.block_create(blocker=hank, username="alice")
    assert [(s.username, s.mutual_friends) for s in selectors.suggestions_for(member=alice)] == [
        ("erin", 2), ("carol", 1), ("frank", 1),
    ]
    # A pending request either way takes the person out; so does a block by me.
    services.friend_request_send(from_user=carol, to_username="alice")
    services.friend_request_send(from_user=alice, to_username="frank")
    services.block_create(blocker=alice, username="erin")
    assert selectors.suggestions_for(member=alice) == []
    assert selectors.suggestions_for(member=mallory) == []


def test_suggestions_are_capped_and_query_count_is_fixed(world, django_assert_num_queries):
    for n in range(SUGGESTIONS_LIMIT + 5):
        befriend(world.bob, UserFactory(username=f"fof{n:02d}"))
    with django_assert_num_queries(5):
        suggestions = selectors.suggestions_for(member=world.alice)
    assert len(suggestions) == SUGGESTIONS_LIMIT
    assert suggestions[0].username == "carol"
