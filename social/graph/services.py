"""Writes to the friend graph.

Concurrency (STYLE.md §6): every write about a pair of members first takes row locks on both
members' rows, in id order, through ``config.kernel.locks`` — the one place locks are taken — so
two concurrent accepts, crossing requests or a block racing an accept run one after the other
and never deadlock each other. Beneath the locks, the database still guards the invariants on
its own: one live friendship per canonical pair and one pending request per direction (partial
unique constraints, with ``IntegrityError`` handled).

``friendship_start`` and ``friendship_end`` are the two ways the graph changes; invitations and
account deletion (``social.privacy``) use them too. Domain signals (``social.graph.signals``) are
sent after commit, exactly once per change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications.feed import Kind, notify
from config.kernel import locks
from config.kernel.after_commit import send_on_commit
from config.kernel.errors import NotFound
from social.graph import selectors
from social.graph.errors import (
    AlreadyFriends,
    CannotBlockSelf,
    CannotFriendSelf,
    RequestClosed,
    YouBlocked,
)
from social.graph.models import Block, FriendRequest, Friendship, ordered_pair
from social.graph.signals import friendship_ended, friendship_started

OPEN_STATUSES = (FriendRequest.Status.PENDING, FriendRequest.Status.DECLINED)


def _announce_started(friendship: Friendship) -> None:
    send_on_commit(
        friendship_started, sender=Friendship, friendship_id=friendship.pk, member_a_id=friendship.member_a_id,
        member_b_id=friendship.member_b_id, accepted_at=friendship.accepted_at, vests_at=friendship.vests_at,
    )


def friendship_start(*, asker_id: int, by: User, via: str, now: datetime) -> Friendship:
    """``by`` accepted what member ``asker_id`` asked (a friend request, or an invitation when
    ``via`` is ``Friendship.Via.INVITATION``): the pair become friends as of ``now``.

    Precondition: inside a transaction that holds both members' row locks
    (``locks.member_ids_lock``). Every open request between them is closed as accepted: they
    are answered now. If the friendship is new, ``friendship_started`` is sent after commit and
    the asker is notified that ``by`` accepted. Returns the live friendship (the existing one if
    they already were friends).
    """
    a, b = ordered_pair(asker_id, by.pk)
    FriendRequest.objects.filter(
        from_user_id__in=(a, b), to_user_id__in=(a, b), status__in=OPEN_STATUSES
    ).update(status=FriendRequest.Status.ACCEPTED, responded_at=now)
    existing = Friendship.objects.active().between(a, b).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():  # a savepoint: the constraint may refuse the row
            friendship = Friendship.objects.create(member_a_id=a, member_b_id=b, via=via, accepted_at=now)
    except IntegrityError:
        # A concurrent transaction made this friendship first (reachable when the row locks
        # are not held): theirs is the one.
        return Friendship.objects.active().between(a, b).get()
    _announce_started(friendship)
    kind = Kind.INVITATION if via == Friendship.Via.INVITATION else Kind.FRIEND_REQUEST
    noun = "invitation" if kind == Kind.INVITATION else "friend request"
    notify(member_id=asker_id, kind=kind, text=f"{by.username} accepted your {noun}: you are now friends.",
           link=reverse("friends"))
    return friendship


def friendship_end(
    *, friendship: Friendship, reason: str, by: User | None, note: str = "", now: datetime
) -> bool:
    """End a live friendship as of ``now`` (kept as history, ``reason`` one of
    ``Friendship.EndReason``); ``friendship_ended`` is sent after commit. Precondition: inside a
    transaction that holds both members' row locks. Idempotent: False if it had already ended."""
    ended = Friendship.objects.filter(pk=friendship.pk, ended_at__isnull=True).update(
        ended_at=now, ended_reason=reason, ended_by=by, ended_note=note
    )
    if not ended:
        return False
    friendship.ended_at, friendship.ended_reason, friendship.ended_note = now, reason, note
    friendship.ended_by = by
    send_on_commit(
        friendship_ended, sender=Friendship, friendship_id=friendship.pk, member_a_id=friendship.member_a_id,
        member_b_id=friendship.member_b_id, reason=reason, ended_at=now, was_vested=friendship.vests_at <= now,
    )
    return True


@transaction.atomic
def friendship_unfriend(*, member: User, username: str) -> None:
    """End ``member``'s friendship with ``username``; ``NotFound`` if they are not friends."""
    other, _ = selectors.friend_by_username(member=member, username=username)
    locks.member_ids_lock([member.pk, other.pk])
    friendship = selectors.active_friendship_between(first_id=member.pk, second_id=other.pk)
    if friendship is None:  # ended by a concurrent request
        raise NotFound()
    friendship_end(
        friendship=friendship, reason=Friendship.EndReason.UNFRIENDED, by=member, now=timezone.now()
    )


@transaction.atomic
def friendship_cut(*, friendship: Friendship, by: User, reason: str) -> bool:
    """A moderator ends a friendship (e.g. fraud). ``reason`` is the moderator's note, kept on
    the row and never shown to the members. Idempotent: False if it had already ended."""
    locks.member_ids_lock([friendship.member_a_id, friendship.member_b_id])
    return friendship_end(
        friendship=friendship, reason=Friendship.EndReason.MODERATOR, by=by, note=reason,
        now=timezone.now(),
    )


@dataclass(frozen=True)
class RequestSent:
    request: FriendRequest
    created: bool
    friendship: Friendship | None  # set when the request met one coming the other way


@transaction.atomic
def friend_request_send(*, from_user: User, to_username: str) -> RequestSent:
    """Ask ``to_username`` to be friends.

    * Idempotent: an open request of mine to them is returned as is (``created=False``).
    * Requests crossing each other: if they already asked me, both are accepted at once.
    * If they blocked me, the request is stored muted: to me it looks exactly like any other
      pending request, but it never reaches them.
    """
    to_user = selectors.member_by_username(username=to_username)
    if to_user.pk == from_user.pk:
        raise CannotFriendSelf()
    locks.member_ids_lock([from_user.pk, to_user.pk])
    if selectors.has_blocked(blocker_id=from_user.pk, blocked_id=to_user.pk):
        raise YouBlocked()
    if selectors.active_friendship_between(first_id=from_user.pk, second_id=to_user.pk):
        raise AlreadyFriends()
    mine = FriendRequest.objects.filter(from_user=from_user, to_user=to_user, status__in=OPEN_STATUSES)
    existing = mine.order_by("-created_at").first()
    if existing is not None:
        return RequestSent(request=existing, created=False, friendship=None)
    now = timezone.now()
    muted = selectors.has_blocked(blocker_id=to_user.pk, blocked_id=from_user.pk)
    theirs = FriendRequest.objects.filter(
        from_user=to_user, to_user=from_user, status__in=OPEN_STATUSES, muted=False
    ).exists()
    if theirs and not muted:
        request = FriendRequest.objects.create(
            from_user=from_user, to_user=to_user, status=FriendRequest.Status.ACCEPTED,
            created_at=now, responded_at=now,
        )
        # Their request to me, answered by mine: they learn it as an acceptance.
        friendship = friendship_start(asker_id=to_user.pk, by=from_user, via=Friendship.Via.MUTUAL_REQUEST, now=now)
        return RequestSent(request=request, created=True, friendship=friendship)
    try:
        with transaction.atomic():
            request = FriendRequest.objects.create(
                from_user=from_user, to_user=to_user, muted=muted, created_at=now
            )
    except IntegrityError:  # a concurrent send of the same request won
        return RequestSent(request=mine.get(status=FriendRequest.Status.PENDING), created=False,
                           friendship=None)
    if not muted:  # a muted request never reaches them, not even as a notification
        notify(member_id=to_user.pk, kind=Kind.FRIEND_REQUEST, text=f"{from_user.username} sent you a friend request.",
               link=reverse("friends"))
    return RequestSent(request=request, created=True, friendship=None)


def _locked_request(request: FriendRequest) -> FriendRequest:
    locks.member_ids_lock([request.from_user_id, request.to_user_id])
    return FriendRequest.objects.select_related("from_user", "to_user").get(pk=request.pk)


@transaction.atomic
def friend_request_accept(*, request: FriendRequest, by: User) -> Friendship:
    """The recipient accepts. Idempotent: accepting again returns the same friendship."""
    if request.to_user_id != by.pk or request.muted:
        raise NotFound()
    request = _locked_request(request)
    if request.status == FriendRequest.Status.ACCEPTED:
        friendship = selectors.active_friendship_between(first_id=request.from_user_id, second_id=by.pk)
        if friendship is None:
            raise RequestClosed()
        return friendship
    if request.status != FriendRequest.Status.PENDING or request.muted:
        raise RequestClosed()
    if not request.from_user.is_active:
        raise NotFound()
    now = timezone.now()
    # The row lock above already serialises accepts; the conditional update keeps the state
    # machine honest even for a caller that skipped it.
    claimed = FriendRequest.objects.filter(pk=request.pk, status=FriendRequest.Status.PENDING).update(
        status=FriendRequest.Status.ACCEPTED, responded_at=now
    )
    if not claimed:
        raise RequestClosed()
    return friendship_start(asker_id=request.from_user_id, by=by, via=Friendship.Via.REQUEST, now=now)


@transaction.atomic
def friend_request_decline(*, request: FriendRequest, by: User) -> None:
    """The recipient declines, silently: the sender keeps seeing the request as pending.
    Idempotent."""
    if request.to_user_id != by.pk or request.muted:
        raise NotFound()
    request = _locked_request(request)
    if request.status == FriendRequest.Status.DECLINED:
        return
    if request.status != FriendRequest.Status.PENDING:
        raise RequestClosed()
    FriendRequest.objects.filter(pk=request.pk, status=FriendRequest.Status.PENDING).update(
        status=FriendRequest.Status.DECLINED, responded_at=timezone.now()
    )


@transaction.atomic
def friend_request_cancel(*, request: FriendRequest, by: User) -> None:
    """The sender withdraws their request. Idempotent."""
    if request.from_user_id != by.pk:
        raise NotFound()
    request = _locked_request(request)
    if request.status == FriendRequest.Status.CANCELLED:
        return
    if request.status not in OPEN_STATUSES:
        raise RequestClosed()
    FriendRequest.objects.filter(pk=request.pk, status__in=OPEN_STATUSES).update(
        status=FriendRequest.Status.CANCELLED, responded_at=timezone.now()
    )


@transaction.atomic
def block_create(*, blocker: User, username: str) -> tuple[Block, bool]:
    """Block a member: ends our friendship, withdraws my requests to them, and mutes theirs to
    me. Nothing tells them: their view of their own requests does not change. Idempotent."""
    target = selectors.member_by_username(username=username)
    if target.pk == blocker.pk:
        raise CannotBlockSelf()
    locks.member_ids_lock([blocker.pk, target.pk])
    existing = Block.objects.filter(blocker=blocker, blocked=target).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    try:
        with transaction.atomic():
            block = Block.objects.create(blocker=blocker, blocked=target, created_at=now)
    except IntegrityError:
        return Block.objects.get(blocker=blocker, blocked=target), False
    friendship = selectors.active_friendship_between(first_id=blocker.pk, second_id=target.pk)
    if friendship is not None:
        friendship_end(friendship=friendship, reason=Friendship.EndReason.BLOCKED, by=blocker, now=now)
    FriendRequest.objects.filter(from_user=blocker, to_user=target, status__in=OPEN_STATUSES).update(
        status=FriendRequest.Status.CANCELLED, responded_at=now
    )
    FriendRequest.objects.filter(
        from_user=target, to_user=blocker, status=FriendRequest.Status.PENDING
    ).update(muted=True)
    return block, True


@transaction.atomic
def block_remove(*, blocker: User, username: str) -> None:
    """Lift my block; ``NotFound`` if I had not blocked that username. Their requests that were
    still pending reach me again."""
    block = Block.objects.filter(blocker=blocker, blocked__username=username).first()
    if block is None:
        raise NotFound()
    locks.member_ids_lock([blocker.pk, block.blocked_id])
    Block.objects.filter(pk=block.pk).delete()
    FriendRequest.objects.filter(
        from_user_id=block.blocked_id, to_user=blocker, status=FriendRequest.Status.PENDING, muted=True
    ).update(muted=False)


@transaction.atomic
def friendship_restore(*, friendship: Friendship, by: User) -> Friendship | None:
    """Undo a moderator's cut: the pair are friends again, as a new row that keeps the original
    ``accepted_at`` (so it vests, and counts for contagion, exactly as before the cut).

    None when it cannot be restored: the friendship was not cut by a moderator, the pair are
    already friends again, either member left or either blocked the other since.
    """
    locks.member_ids_lock([friendship.member_a_id, friendship.member_b_id])
    row = Friendship.objects.select_related("member_a", "member_b").get(pk=friendship.pk)
    if row.ended_at is None or row.ended_reason != Friendship.EndReason.MODERATOR:
        return None
    if not (row.member_a.is_active and row.member_b.is_active):
        return None
    if Block.objects.filter(
        blocker_id__in=(row.member_a_id, row.member_b_id), blocked_id__in=(row.member_a_id, row.member_b_id)
    ).exists():
        return None
    if Friendship.objects.active().between(row.member_a_id, row.member_b_id).exists():
        return None
    restored = Friendship.objects.create(
        member_a_id=row.member_a_id, member_b_id=row.member_b_id, via=row.via, accepted_at=row.accepted_at
    )
    _announce_started(restored)
    return restored
