"""Reads of the friend graph.

The contagion engine (scoring) reads the graph through ``friendships_active_for_contagion``;
everything else here serves the friends pages and API. ``friend_by_username`` (and
``friend_detail`` on top of it) raises ``NotFound`` identically for a stranger, a block either
way, an inactive member and a username that does not exist; ``member_by_username`` raises it for
an unknown or inactive username.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.members.models import User
from config.kernel.errors import NotFound
from social.graph.limits import SUGGESTIONS_LIMIT
from social.graph.models import Block, FriendRequest, Friendship, FriendshipQuerySet


def member_by_username(*, username: str) -> User:
    """An active member by username, or ``NotFound`` (inactive members do not exist here)."""
    try:
        return User.objects.get(username=username, is_active=True)
    except User.DoesNotExist:
        raise NotFound() from None


def blocked_ids(*, member_id: int) -> set[int]:
    """Everyone hidden from this member: whom they blocked and who blocked them."""
    rows = Block.objects.filter(Q(blocker_id=member_id) | Q(blocked_id=member_id)).values_list(
        "blocker_id", "blocked_id"
    )
    return {blocked if blocker == member_id else blocker for blocker, blocked in rows}


def has_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


def blocks_of(*, member: User) -> QuerySet[Block]:
    """The blocks a member made (never those made against them)."""
    return Block.objects.filter(blocker=member).select_related("blocked").order_by("blocked__username")


@dataclass(frozen=True)
class Friend:
    """A friend as their friend sees them. ``score``/``band`` are None when not scored yet, or
    when the friend is in private mode (off friends' boards: their score is theirs alone)."""

    username: str
    score: int | None
    band: str | None
    since: datetime
    vests_at: datetime
    private: bool
    friendship_id: int

    @property
    def vested(self) -> bool:
        return self.vests_at <= timezone.now()


def _friend_row(friendship: Friendship, me_id: int) -> Friend:
    other = friendship.member_b if friendship.member_a_id == me_id else friendship.member_a
    hidden = other.private_mode
    return Friend(
        username=other.username,
        score=None if hidden else other.score,
        band=None if hidden or not other.score_band else other.score_band,
        since=friendship.accepted_at,
        vests_at=friendship.vests_at,
        private=other.private_mode,
        friendship_id=friendship.pk,
    )


def friends_of(*, member: User) -> list[Friend]:
    """The member's live friends (inactive members left out), by username. One query."""
    rows = (
        Friendship.objects.active()
        .of_member(member.pk)
        .filter(member_a__is_active=True, member_b__is_active=True)
        .select_related("member_a", "member_b")
    )
    friends = [_friend_row(f, member.pk) for f in rows]
    return sorted(friends, key=lambda f: f.username)


def friend_ids(*, member_id: int) -> set[int]:
    rows = Friendship.objects.active().of_member(member_id).values_list("member_a_id", "member_b_id")
    return {b if a == member_id else a for a, b in rows}


def active_friendship_between(*, first_id: int, second_id: int) -> Friendship | None:
    return Friendship.objects.active().between(first_id, second_id).first()


def friend_by_username(*, member: User, username: str) -> tuple[User, Friendship]:
    """A friend of ``member`` and the friendship, or ``NotFound`` — the same for a stranger, a
    block either way, an inactive member and a username that does not exist."""
    friendship = (
        Friendship.objects.active()
        .filter(
            Q(member_a=member, member_b__username=username, member_b__is_active=True)
            | Q(member_b=member, member_a__username=username, member_a__is_active=True)
        )
        .select_related("member_a", "member_b")
        .first()
    )
    if friendship is None:
        raise NotFound()
    other = friendship.member_b if friendship.member_a_id == member.pk else friendship.member_a
    return other, friendship


def friend_detail(*, member: User, username: str) -> Friend:
    _, friendship = friend_by_username(member=member, username=username)
    return _friend_row(friendship, member.pk)


def incoming_requests(*, member: User) -> QuerySet[FriendRequest]:
    """Requests waiting for this member's answer. Muted ones (from members they blocked) never
    show."""
    return FriendRequest.objects.filter(
        to_user=member, status=FriendRequest.Status.PENDING, muted=False, from_user__is_active=True
    ).select_related("from_user")


def outgoing_requests(*, member: User) -> QuerySet[FriendRequest]:
    """Requests this member sent that are still open *from their point of view*.

    A declined request stays "pending" to its sender, and so does one muted by a block: the
    sender can never tell a decline, a block and a recipient who has not answered yet apart.
    """
    return FriendRequest.objects.filter(
        from_user=member,
        status__in=[FriendRequest.Status.PENDING, FriendRequest.Status.DECLINED],
        to_user__is_active=True,
    ).select_related("to_user")


def request_for_recipient(*, member: User, request_id: int) -> FriendRequest:
    """A request addressed to ``member`` that they can see, or ``NotFound``."""
    try:
        return FriendRequest.objects.select_related("from_user", "to_user").get(
            pk=request_id, to_user=member, muted=False
        )
    except FriendRequest.DoesNotExist:
        raise NotFound() from None


def request_for_sender(*, member: User, request_id: int) -> FriendRequest:
    try:
        return FriendRequest.objects.select_related("from_user", "to_user").get(
            pk=request_id, from_user=member
        )
    except FriendRequest.DoesNotExist:
        raise NotFound() from None


def outgoing_status(request: FriendRequest) -> str:
    """The status the sender is shown (see ``outgoing_requests``)."""
    if request.status == FriendRequest.Status.DECLINED:
        return FriendRequest.Status.PENDING
    return request.status


@dataclass(frozen=True)
class Suggestion:
    username: str
    mutual_friends: int


def suggestions_for(*, member: User, limit: int = SUGGESTIONS_LIMIT) -> list[Suggestion]:
    """Friends of friends, most mutual friends first (then by username).

    Left out: the member, their friends, anyone blocked either way, anyone with a request open
    either way (declined ones included: no nagging), members in private mode and inactive ones.
    Four queries whatever the graph's size; the counting walks the friends' edges in Python,
    i.e. Σ deg(friend) rows — fine for ordinary members, worth a SQL aggregate for hubs.
    """
    mine = friend_ids(member_id=member.pk)
    if not mine:
        return []
    edges = (
        Friendship.objects.active()
        .filter(Q(member_a_id__in=mine) | Q(member_b_id__in=mine))
        .values_list("member_a_id", "member_b_id")
    )
    excluded = mine | {member.pk} | blocked_ids(member_id=member.pk)
    mutual: Counter[int] = Counter()
    for a, b in edges:
        if a in mine and b not in excluded:
            mutual[b] += 1
        if b in mine and a not in excluded:
            mutual[a] += 1
    if not mutual:
        return []
    open_requests = FriendRequest.objects.filter(
        Q(from_user=member) | Q(to_user=member),
        status__in=[FriendRequest.Status.PENDING, FriendRequest.Status.DECLINED],
    ).values_list("from_user_id", "to_user_id")
    for from_id, to_id in open_requests:
        mutual.pop(to_id if from_id == member.pk else from_id, None)
    eligible = dict(
        User.objects.filter(pk__in=list(mutual), is_active=True, private_mode=False).values_list(
            "pk", "username"
        )
    )
    ranked = sorted(
        (Suggestion(username=eligible[pk], mutual_friends=count) for pk, count in mutual.items()
         if pk in eligible),
        key=lambda s: (-s.mutual_friends, s.username),
    )
    return ranked[:limit]


def friendships_active_for_contagion(*, now: datetime | None = None) -> FriendshipQuerySet:
    """Friendships that count for friend contagion at ``now`` (default: now).

    Accepted and vested (``accepted_at + CONTAGION_VESTING <= now``), not ended at ``now``, and
    neither member in private mode, inactive, nor frozen by a moderator (those flags are read as
    they are now).
    Iterate ``.values_list("member_a_id", "member_b_id")`` or ``.iterator()`` for big graphs.
    """
    now = now or timezone.now()
    # Excluding the (few) members who sit out beats joining every friendship to both members:
    # 7 s instead of 18 s for 9M friendships on PostgreSQL.
    out = User.objects.filter(Q(is_active=False) | Q(private_mode=True) | Q(is_frozen=True)).values("pk")
    return Friendship.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=now),
        accepted_at__lte=now - settings.CONTAGION_VESTING,
    ).exclude(member_a__in=out).exclude(member_b__in=out)
