"""The friends board in services mode: the card hash kept in step with the sorted sets, the
cached friend lists and their invalidation, and the queries it costs. Marked ``services``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.members.models import User
from leaderboards.boards import index, services
from leaderboards.boards.ranking import member_key, reached_us
from leaderboards.live import protocol
from scoring.model import band_for
from social.graph import services as social_services
from tests.leaderboards.conftest import befriend, member, scored

pytestmark = pytest.mark.services
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def card_of(user: User) -> bytes | None:
    return index.client().hget(index.keys().cards, member_key(user.pk))  # type: ignore[return-value]


def friends_rows(viewer: User) -> list[tuple[int, str, int]]:
    view = services.board_for(protocol.FRIENDS, viewer=viewer).view(viewer_id=viewer.pk, limit=50)
    return [(e.rank, e.username, e.score) for e in view.entries]


def cached(user: User) -> bool:
    return bool(index.client().exists(index.keys().friends(user.pk)))


@pytest.mark.django_db
def test_the_card_hash_moves_with_the_sorted_sets_and_a_rebuild_writes_the_same(redis_index):
    alice = member("alice", 640, at=at(1))
    assert card_of(alice) == f"640:{reached_us(at(1))}:{band_for(640)}:alice".encode()
    scored(alice, 720, at=at(2))
    assert card_of(alice) == f"720:{reached_us(at(2))}:{band_for(720)}:alice".encode()
    # Private: off every board (the sorted sets), but her card stays: she still sees herself.
    User.objects.filter(pk=alice.pk).update(private_mode=True)
    services.member_listing_changed(member_id=alice.pk)
    assert index.client().zscore(index.keys().all, member_key(alice.pk)) is None
    assert card_of(alice) == f"720:{reached_us(at(2))}:{band_for(720)}:alice".encode()
    nobody = member("nobody")
    services.members_reindex(member_ids=[nobody.pk])
    assert card_of(nobody) == b""  # known, without a score

    incremental = index.client().hgetall(index.keys().cards)
    index.drop_all()
    services.index_rebuild()
    assert index.client().hgetall(index.keys().cards) == incremental


@pytest.mark.django_db
def test_a_cached_friend_list_makes_the_board_query_free(redis_index, django_assert_num_queries):
    me = member("me", 600, at=at(0))
    for n in range(3):
        befriend(me, member(f"f{n}", 610 + n * 10, at=at(n + 1)))
    with django_assert_num_queries(1):  # the friend ids, once
        cold = friends_rows(me)
    assert cached(me)
    with django_assert_num_queries(0):
        warm = friends_rows(me)
    assert cold == warm == [(1, "f2", 630), (2, "f1", 620), (3, "f0", 610), (4, "me", 600)]


@pytest.mark.django_db
def test_frozen_inactive_and_private_friends_leave_a_cached_board_at_once(redis_index):
    me = member("me", 600, at=at(0), private_mode=True)
    friends = {name: member(name, 700 + n, at=at(n + 1)) for n, name in enumerate(["fay", "gus", "hal", "ida"])}
    for friend in friends.values():
        befriend(me, friend)
    assert [r[1] for r in friends_rows(me)] == ["ida", "hal", "gus", "fay", "me"]  # I see myself, private or not
    for name, change in [("fay", {"is_frozen": True}), ("gus", {"is_active": False}), ("hal", {"private_mode": True})]:
        User.objects.filter(pk=friends[name].pk).update(**change)
        services.member_listing_changed(member_id=friends[name].pk)
    assert friends_rows(me) == [(1, "ida", 703), (2, "me", 600)]


@pytest.mark.django_db
def test_unfriending_and_blocking_drop_the_cached_friend_lists(redis_index, django_capture_on_commit_callbacks):
    alice = member("alice", 640, at=at(1))
    bob = member("bob", 700, at=at(2))
    carol = member("carol", 650, at=at(3))
    befriend(alice, bob)
    befriend(alice, carol)
    assert [r[1] for r in friends_rows(alice)] == ["bob", "carol", "alice"]
    assert [r[1] for r in friends_rows(bob)] == ["bob", "alice"]
    assert cached(alice) and cached(bob)

    with django_capture_on_commit_callbacks(execute=True):
        social_services.friendship_unfriend(member=alice, username="bob")
    assert not cached(alice) and not cached(bob)
    assert [r[1] for r in friends_rows(alice)] == ["carol", "alice"]
    assert [r[1] for r in friends_rows(bob)] == ["bob"]

    with django_capture_on_commit_callbacks(execute=True):
        social_services.block_create(blocker=carol, username="alice")
    assert [r[1] for r in friends_rows(alice)] == ["alice"]
    assert [r[1] for r in friends_rows(carol)] == ["carol"]


@pytest.mark.django_db
def test_a_new_friendship_shows_on_a_cached_board(redis_index, django_capture_on_commit_callbacks):
    alice = member("alice", 640, at=at(1))
    dave = member("dave", 800, at=at(2))
    assert [r[1] for r in friends_rows(alice)] == ["alice"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = social_services.friend_request_send(from_user=alice, to_username="dave")
        social_services.friend_request_accept(request=sent.request, by=dave)
    assert [r[1] for r in friends_rows(alice)] == ["dave", "alice"]


@pytest.mark.django_db
def test_a_friend_list_read_before_a_change_is_not_cached_after_it(redis_index):
    alice = member("alice", 640, at=at(1))
    bob = member("bob", 700, at=at(2))

    def load() -> list[int]:
        ids = [bob.pk]  # read from the database ...
        index.friends_forget([alice.pk])  # ... while a friendship change lands
        return ids

    read = index.friends_read(alice.pk, load)
    assert sorted(member_id for member_id, _ in read.rows) == sorted([alice.pk, bob.pk])  # this read uses it
    assert not cached(alice)  # but nobody else will


@pytest.mark.django_db
def test_an_index_written_before_cards_falls_back_to_the_database(redis_index, django_assert_num_queries):
    me = member("me", 600, at=at(0))
    bob = member("bob", 700, at=at(1))
    eve = member("eve", 650, at=at(2), private_mode=True)
    befriend(me, bob)
    befriend(me, eve)
    index.client().delete(index.keys().cards)
    with django_assert_num_queries(2):  # friend ids; the members without a card
        assert friends_rows(me) == [(1, "bob", 700), (2, "me", 600)]


@pytest.mark.django_db
def test_the_friends_api_costs_one_query_with_a_token_and_two_with_a_session(
        redis_index, django_assert_max_num_queries):
    me = member("me", 600, at=at(0))
    for n in range(20):
        befriend(me, member(f"f{n:02d}", 500 + n * 9, at=at(n + 1)))
    url = "/api/v1/leaderboards/friends/?around=me&limit=10"
    _, token = AuthToken.objects.create(me)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(url).json()["total"] == 21  # fills the friend-list cache
    with django_assert_max_num_queries(1):  # the token; nothing for the board
        response = api.get(url)
    assert response.status_code == 200 and response.json()["my_rank"] == 9
    session = APIClient()
    session.force_login(me)
    with django_assert_max_num_queries(2):  # the session and its member
        assert session.get(url).json()["my_rank"] == 9
