"""Members and their profiles.

Profile fields count toward the score only as *completeness* (DESIGN.md §2): whether a field
is filled or verified, never what it says.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    class Visibility(models.TextChoices):
        FRIENDS = "friends", "Friends only"
        PUBLIC = "public", "Everyone"

    # Profile (completeness only).
    phone = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=100, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    bio = models.TextField(max_length=500, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")

    # Privacy.
    profile_visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.FRIENDS
    )
    on_global_board = models.BooleanField(
        default=False, help_text="Appear on the global leaderboard (opt-in)."
    )
    private_mode = models.BooleanField(
        default=False,
        help_text="Left the social game: no friend contagion either way, off friends' boards.",
    )

    # The displayed score, denormalised here so lower apps (friends lists) and the database
    # boards can read it in one query. Written only by scoring (scoring.services); null until
    # the member is first scored. ``score_reached_at`` breaks ties on boards: who got there first.
    score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    score_band = models.CharField(max_length=16, blank=True, editable=False)
    score_reached_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Moderation (DESIGN.md §10). Written only by scoring's moderation services (audited):
    # a frozen member is off every board, out of friend contagion, and the API refuses their
    # writes (accounts.permissions, accounts.middleware). ``frozen_until`` empty: until a
    # moderator unfreezes them; otherwise a periodic task unfreezes them then.
    is_frozen = models.BooleanField(default=False, editable=False, db_index=True)
    frozen_at = models.DateTimeField(null=True, blank=True, editable=False)
    frozen_until = models.DateTimeField(null=True, blank=True, editable=False)
    frozen_reason = models.TextField(max_length=1000, blank=True, editable=False)

    class Meta:
        ordering = ["username"]
        indexes = [models.Index(fields=["-score", "score_reached_at"], name="user_score_rank")]

    def __str__(self) -> str:
        return self.username


class Notification(models.Model):
    """One item of a member's in-app feed (and, live, of their WebSocket).

    Lives here, in the lowest app, so that every app can notify a member without importing a
    higher one: write through ``accounts.notifications.notify`` (mutes, the live push).
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
    text = models.TextField(max_length=2000)
    #: A path inside the site the notification is about ("/friends/"), or empty.
    link = models.CharField(max_length=200, blank=True)
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
