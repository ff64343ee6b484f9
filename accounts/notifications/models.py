"""A member's notification feed: its items and the kinds they muted."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

#: The longest text and link a notification keeps, in characters; ``notify`` cuts longer ones.
TEXT_MAX_LENGTH = 2000
LINK_MAX_LENGTH = 200


class Notification(models.Model):
    """One item of a member's in-app feed (and, live, of their WebSocket).

    Lives here, in the lowest app, so that every app can notify a member without importing a
    higher one: write through ``accounts.notifications.feed.notify`` (mutes, the live push).
    """

    class Kind(models.TextChoices):
        BADGE = "badge", "Badges awarded"
        FRIEND_REQUEST = "friend_request", "Friend requests"
        INVITATION = "invitation", "Invitations accepted"
        PASSED = "passed", "Passed on a board"
        CHALLENGE = "challenge", "Challenges"
        PERK = "perk", "Perks gained and lost"
        DISPUTE = "dispute", "Disputes decided"
        EVENT = "event", "Events corrected or reversed"
        ACCOUNT = "account", "Your account"
        FLAG = "flag", "Flags you raised"

    member = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField(max_length=TEXT_MAX_LENGTH)
    #: A path inside the site the notification is about ("/friends/"), or empty.
    link = models.CharField(max_length=LINK_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="notification_member_time")]

    def __str__(self) -> str:
        return self.text[:60]


class NotificationMute(models.Model):
    """The member does not want notifications of ``kind`` (see ``accounts.notifications``)."""

    member = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notification_mutes")
    kind = models.CharField(max_length=20, choices=Notification.Kind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "kind"], name="notification_mute_once")]

    def __str__(self) -> str:
        return f"{self.member_id} mutes {self.kind}"

