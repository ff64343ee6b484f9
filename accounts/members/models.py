"""Members and their profiles.

Profile fields count toward the score only as *completeness* (DESIGN.md §2): whether a field
is filled or verified, never what it says.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


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
    # boards can read it in one query. Written only by scoring (scoring.ledger, scoring.contagion);
    # null until the member is first scored. ``score_reached_at`` breaks ties on boards: who got
    # there first.
    score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    score_band = models.CharField(max_length=16, blank=True, editable=False)
    score_reached_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Moderation (DESIGN.md §10). Written only by scoring's moderation services (audited):
    # a frozen member is off every board, out of friend contagion, and the API refuses their
    # writes (accounts.auth.permissions, accounts.auth.middleware). ``frozen_until`` empty: until a
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

