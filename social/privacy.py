"""Social's sections of a member's data (``accounts.privacy.registry``): friendships, friend
requests, blocks and invitations; and leaving the friend graph when the account is deleted."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.members.models import User
from accounts.privacy import registry
from accounts.privacy.registry import Deletion, Section
from config.kernel import locks
from social.graph.models import Block, FriendRequest, Friendship
from social.graph.selectors import outgoing_status
from social.graph.services import OPEN_STATUSES, friendship_end
from social.invitations.models import Invitation


def friendships_export(member: User) -> list[dict[str, Any]]:
    friendships = Friendship.objects.of_member(member.pk).select_related("member_a", "member_b").order_by("accepted_at")
    return [
        {"friend": (f.member_b if f.member_a_id == member.pk else f.member_a).username, "via": f.via,
         "since": f.accepted_at, "ended_at": f.ended_at, "ended_reason": f.ended_reason}
        for f in friendships
    ]


def friend_requests_export(member: User) -> dict[str, list[dict[str, Any]]]:
    """Requests sent (with the status their sender sees) and received (those that reached the
    member: a request muted by their block never did)."""
    return {
        "sent": [{"to": r.to_user.username, "at": r.created_at, "status": outgoing_status(r)}
                 for r in FriendRequest.objects.filter(from_user=member).select_related("to_user")],
        "received": [{"from": r.from_user.username, "at": r.created_at, "status": r.status}
                     for r in FriendRequest.objects.filter(to_user=member, muted=False).select_related("from_user")],
    }


def blocks_export(member: User) -> list[dict[str, Any]]:
    """The blocks the member made (never those made against them)."""
    return [{"username": b.blocked.username, "at": b.created_at}
            for b in Block.objects.filter(blocker=member).select_related("blocked")]


def invitations_export(member: User) -> list[dict[str, Any]]:
    return [{"email": i.email, "created_at": i.created_at, "expires_at": i.expires_at,
             "used_at": i.used_at, "used_by": i.used_by.username if i.used_by else None}
            for i in Invitation.objects.filter(inviter=member).select_related("used_by")]


def member_graph_leave(member: User, deletion: Deletion) -> dict[str, int]:
    """The member deletes their account: end every friendship (``friendship_ended`` after commit,
    so friends' contagion is reversed), cancel open requests both ways, expire their open
    invitations (forgetting the addresses they were sent to) and remove blocks either way.

    Runs inside the deletion's transaction. Answers how many friendships ended.
    """
    # Every member involved, locked once in id order, then read again.
    friends = Friendship.objects.active().of_member(member.pk).values_list("member_a_id", "member_b_id")
    locks.member_ids_lock([member.pk, *(m for pair in friends for m in pair)])
    now = deletion.at
    ended = 0
    for friendship in Friendship.objects.active().of_member(member.pk).order_by("pk"):
        ended += friendship_end(friendship=friendship, reason=Friendship.EndReason.UNFRIENDED, by=member, now=now)
    FriendRequest.objects.filter(from_user=member, status__in=OPEN_STATUSES).update(
        status=FriendRequest.Status.CANCELLED, responded_at=now
    )
    FriendRequest.objects.filter(to_user=member, status__in=OPEN_STATUSES).update(
        status=FriendRequest.Status.DECLINED, responded_at=now
    )
    Invitation.objects.filter(inviter=member, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    Invitation.objects.filter(inviter=member).exclude(email="").update(email="")  # other people's addresses
    Block.objects.filter(Q(blocker=member) | Q(blocked=member)).delete()
    return {"friendships_ended": ended}


def register_sections() -> None:
    registry.register(
        # Leaving the graph ends friendships, closes requests, expires invitations and lifts
        # blocks in one step: it hangs on the first section.
        Section("friendships", (Friendship,), friendships_export, member_graph_leave),
        Section("friend_requests", (FriendRequest,), friend_requests_export),
        Section("blocks", (Block,), blocks_export),
        Section("invitations", (Invitation,), invitations_export),
    )
