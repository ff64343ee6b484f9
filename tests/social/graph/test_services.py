from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from config.kernel.errors import NotFound
from social.graph import selectors, services
from social.graph.errors import AlreadyFriends, CannotBlockSelf, CannotFriendSelf, RequestClosed, YouBlocked
from social.graph.models import Block, FriendRequest, Friendship
from tests.factories import UserFactory
from tests.social.conftest import befriend

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def friend_names(user):  # type: ignore[no-untyped-def]
    return [f.username for f in selectors.friends_of(member=user)]


def test_world_is_the_cast(world):
    assert friend_names(world.alice) == ["bob"]
    assert friend_names(world.bob) == ["alice", "carol"]
    assert friend_names(world.carol) == ["bob"]
    assert friend_names(world.mallory) == []
    assert Friendship.objects.count() == 2


def test_request_then_accept_makes_one_canonical_friendship(alice, mallory, signals_log,
                                                            django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        sent = services.friend_request_send(from_user=mallory, to_username="alice")
        assert sent.created and sent.friendship is None
        assert signals_log == []
        friendship = services.friend_request_accept(request=sent.request, by=alice)
    low, high = sorted([alice.pk, mallory.pk])
    assert (friendship.member_a_id, friendship.member_b_id) == (low, high)
    assert friendship.accepted_at == T0
    assert friendship.vests_at == T0 + timedelta(days=7)
    assert friendship.via == Friendship.Via.REQUEST
    sent.request.refresh_from_db()
    assert (sent.request.status, sent.request.responded_at) == ("accepted", T0)
    assert signals_log == [("started", {
        "friendship_id": friendship.pk, "member_a_id": low, "member_b_id": high,
        "accepted_at": T0, "vests_at": T0 + timedelta(days=7),
    })]


def test_signals_are_sent_only_after_commit(alice, mallory, signals_log,
                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = services.friend_request_send(from_user=mallory, to_username="alice")
        services.friend_request_accept(request=sent.request, by=alice)
    assert signals_log == []  # the transaction has not committed
    assert len(callbacks) == 3  # the friendship's signal, and the two notifications' (request, accepted)
    for callback in callbacks:
        callback()
    assert [name for name, _ in signals_log] == ["started"]


def test_sending_twice_returns_the_same_pending_request(alice, mallory):
    first = services.friend_request_send(from_user=mallory, to_username="alice")
    again = services.friend_request_send(from_user=mallory, to_username="alice")
    assert first.created is True and again.created is False
    assert again.request.pk == first.request.pk
    assert FriendRequest.objects.count() == 1


def test_crossing_requests_accept_both(alice, mallory, signals_log, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.friend_request_send(from_user=mallory, to_username="alice")
        second = services.friend_request_send(from_user=alice, to_username="mallory")
    assert second.created is True
    assert second.request.status == "accepted"
    assert second.friendship is not None and second.friendship.via == "mutual_request"
    first.request.refresh_from_db()
    assert first.request.status == "accepted"
    assert Friendship.objects.active().count() == 1
    assert [name for name, _ in signals_log] == ["started"]


def test_request_errors(world):
    with pytest.raises(CannotFriendSelf):
        services.friend_request_send(from_user=world.alice, to_username="alice")
    with pytest.raises(AlreadyFriends):
        services.friend_request_send(from_user=world.alice, to_username="bob")
    with pytest.raises(NotFound):
        services.friend_request_send(from_user=world.alice, to_username="nobody")
    world.mallory.is_active = False
    world.mallory.save()
    with pytest.raises(NotFound):
        services.friend_request_send(from_user=world.alice, to_username="mallory")


def test_accept_is_idempotent_and_only_for_the_recipient(alice, mallory):
    sent = services.friend_request_send(from_user=mallory, to_username="alice")
    with pytest.raises(NotFound):
        services.friend_request_accept(request=sent.request, by=mallory)
    first = services.friend_request_accept(request=sent.request, by=alice)
    again = services.friend_request_accept(request=sent.request, by=alice)
    assert first.pk == again.pk
    assert Friendship.objects.count() == 1


def test_decline_is_silent_to_the_sender_and_cancel_withdraws(alice, mallory):
    sent = services.friend_request_send(from_user=mallory, to_username="alice")
    services.friend_request_decline(request=sent.request, by=alice)
    services.friend_request_decline(request=sent.request, by=alice)  # idempotent
    assert list(selectors.incoming_requests(member=alice)) == []
    outgoing = list(selectors.outgoing_requests(member=mallory))
    assert [(r.pk, selectors.outgoing_status(r)) for r in outgoing] == [(sent.request.pk, "pending")]
    # Sending again does not nag alice: the same request comes back.
    again = services.friend_request_send(from_user=mallory, to_username="alice")
    assert (again.created, again.request.pk) == (False, sent.request.pk)
    with pytest.raises(RequestClosed):
        services.friend_request_accept(request=sent.request, by=alice)
    services.friend_request_cancel(request=sent.request, by=mallory)
    services.friend_request_cancel(request=sent.request, by=mallory)  # idempotent
    assert list(selectors.outgoing_requests(member=mallory)) == []
    with pytest.raises(NotFound):
        services.friend_request_cancel(request=sent.request, by=alice)


def test_declined_request_then_the_decliner_asks_makes_friends(alice, mallory):
    sent = services.friend_request_send(from_user=mallory, to_username="alice")
    services.friend_request_decline(request=sent.request, by=alice)
    back = services.friend_request_send(from_user=alice, to_username="mallory")
    assert back.friendship is not None


def test_cancel_an_accepted_request_is_refused(world):
    request = FriendRequest.objects.get(from_user=world.alice, to_user=world.bob)
    with pytest.raises(RequestClosed):
        services.friend_request_cancel(request=request, by=world.alice)


def test_unfriend_keeps_history_and_signals_once(world, signals_log, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.friendship_unfriend(member=world.alice, username="bob")
    row = Friendship.objects.get(pk=world.alice_bob.pk)
    assert (row.ended_at, row.ended_reason, row.ended_by_id) == (T0, "unfriended", world.alice.pk)
    assert signals_log == [("ended", {
        "friendship_id": row.pk, "member_a_id": row.member_a_id, "member_b_id": row.member_b_id,
        "reason": "unfriended", "ended_at": T0, "was_vested": False,
    })]
    with pytest.raises(NotFound):
        services.friendship_unfriend(member=world.alice, username="bob")
    # Friends again later: a new row; the old one stays as history.
    again = befriend(world.alice, world.bob)
    assert again.pk != row.pk
    assert Friendship.objects.between(world.alice.pk, world.bob.pk).count() == 2


def test_moderator_cut(world, signals_log, django_capture_on_commit_callbacks):
    moderator = UserFactory(username="mod")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.friendship_cut(friendship=world.bob_carol, by=moderator, reason="farm ring") is True
        assert services.friendship_cut(friendship=world.bob_carol, by=moderator, reason="again") is False
    row = Friendship.objects.get(pk=world.bob_carol.pk)
    assert (row.ended_reason, row.ended_note, row.ended_by_id) == ("moderator", "farm ring", moderator.pk)
    assert [(name, kw["reason"]) for name, kw in signals_log] == [("ended", "moderator")]
    assert friend_names(world.carol) == []


def test_block_ends_friendship_hides_and_mutes_without_telling(world, signals_log,
                                                              django_capture_on_commit_callbacks):
    pending = services.friend_request_send(from_user=world.mallory, to_username="alice").request
    mine = services.friend_request_send(from_user=world.alice, to_username="carol").request
    with django_capture_on_commit_callbacks(execute=True):
        _block, created = services.block_create(blocker=world.alice, username="bob")
        services.block_create(blocker=world.alice, username="mallory")
        services.block_create(blocker=world.alice, username="carol")
    assert created is True
    assert [(n, kw["reason"]) for n, kw in signals_log] == [("ended", "blocked")]
    assert friend_names(world.alice) == []
    # mallory's request is muted: gone for alice, still "pending" for mallory.
    assert list(selectors.incoming_requests(member=world.alice)) == []
    pending.refresh_from_db()
    assert (pending.status, pending.muted) == ("pending", True)
    assert [r.pk for r in selectors.outgoing_requests(member=world.mallory)] == [pending.pk]
    # alice's own request to carol is withdrawn.
    mine.refresh_from_db()
    assert mine.status == "cancelled"
    # Blocking again is a no-op; blocking yourself is refused.
    assert services.block_create(blocker=world.alice, username="bob")[1] is False
    with pytest.raises(CannotBlockSelf):
        services.block_create(blocker=world.alice, username="alice")


def test_blocked_members_request_succeeds_for_them_but_never_reaches_the_blocker(world):
    services.block_create(blocker=world.alice, username="mallory")
    sent = services.friend_request_send(from_user=world.mallory, to_username="alice")
    assert (sent.created, sent.request.status, sent.friendship) == (True, "pending", None)
    assert sent.request.muted is True
    assert list(selectors.incoming_requests(member=world.alice)) == []
    with pytest.raises(NotFound):
        services.friend_request_accept(request=sent.request, by=world.alice)
    # The blocker cannot send while blocking.
    with pytest.raises(YouBlocked):
        services.friend_request_send(from_user=world.alice, to_username="mallory")


def test_unblock_lets_pending_requests_through(world):
    services.block_create(blocker=world.alice, username="mallory")
    sent = services.friend_request_send(from_user=world.mallory, to_username="alice")
    services.block_remove(blocker=world.alice, username="mallory")
    assert [r.pk for r in selectors.incoming_requests(member=world.alice)] == [sent.request.pk]
    assert Block.objects.count() == 0
    with pytest.raises(NotFound):
        services.block_remove(blocker=world.alice, username="mallory")


def test_blocked_by_someone_who_blocked_you_back(world):
    services.block_create(blocker=world.alice, username="mallory")
    # mallory may block alice too, and is not told alice blocked her first.
    _block, created = services.block_create(blocker=world.mallory, username="alice")
    assert created is True
    assert Block.objects.count() == 2
