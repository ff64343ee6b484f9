"""The friend graph: friendships, friend requests, blocks and invitations.

A friendship is stored once per pair, canonically ordered (``member_a_id < member_b_id``), so
"alice and bob" and "bob and alice" are the same row and a unique constraint can make two
concurrent accepts produce exactly one friendship. Ended friendships are kept as history
(``ended_at``/``ended_reason``); a pair may become friends again later, as a new row.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def ordered_pair(first_id: int, second_id: int) -> tuple[int, int]:
    """The canonical (member_a_id, member_b_id) of a pair: the lower id first."""
    return (first_id, second_id) if first_id < second_id else (second_id, first_id)


class FriendshipQuerySet(models.QuerySet["Friendship"]):
    def active(self) -> FriendshipQuerySet:
        return self.filter(ended_at__isnull=True)

    def of_member(self, member_id: int) -> FriendshipQuerySet:
        return self.filter(Q(member_a_id=member_id) | Q(member_b_id=member_id))

    def between(self, first_id: int, second_id: int) -> FriendshipQuerySet:
        a, b = ordered_pair(first_id, second_id)
        return self.filter(member_a_id=a, member_b_id=b)


class Friendship(models.Model):
    class Via(models.TextChoices):
        REQUEST = "request", "Friend request"
        MUTUAL_REQUEST = "mutual_request", "Requests both ways"
        INVITATION = "invitation", "Invitation"

    class EndReason(models.TextChoices):
        UNFRIENDED = "unfriended", "Unfriended"
        BLOCKED = "blocked", "Blocked"
        MODERATOR = "moderator", "Cut by a moderator"

    member_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friendships_as_a"
    )
    member_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friendships_as_b"
    )
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.REQUEST)
    #: When both sides had accepted: the friendship vests CONTAGION_VESTING later.
    accepted_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Free text from a moderator who cut the friendship (never shown to the members).
    ended_note = models.TextField(blank=True)

    objects = FriendshipQuerySet.as_manager()

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(member_a__lt=models.F("member_b")), name="friendship_pair_ordered"
            ),
            # At most one live friendship per pair; history rows (ended) may repeat.
            models.UniqueConstraint(
                fields=["member_a", "member_b"],
                condition=Q(ended_at__isnull=True),
                name="friendship_one_active_per_pair",
            ),
        ]
        indexes = [models.Index(fields=["member_b", "member_a"], name="friendship_b_a")]

    def __str__(self) -> str:
        return f"{self.member_a_id} ↔ {self.member_b_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    @property
    def vests_at(self) -> datetime:
        """When the friendship starts to count for friend contagion."""
        return self.accepted_at + settings.CONTAGION_VESTING


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_sent"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_received"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: Hidden from the recipient because the recipient blocked the sender. The sender still
    #: sees it as pending: a block is never revealed to the blocked member.
    muted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_user=models.F("to_user")), name="friend_request_not_self"
            ),
            models.UniqueConstraint(
                fields=["from_user", "to_user"],
                condition=Q(status="pending"),
                name="friend_request_one_pending_per_direction",
            ),
        ]
        indexes = [models.Index(fields=["to_user", "status"], name="friend_request_inbox")]

    def __str__(self) -> str:
        return f"{self.from_user_id} → {self.to_user_id} ({self.status})"


class Block(models.Model):
    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(condition=~Q(blocker=models.F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"

