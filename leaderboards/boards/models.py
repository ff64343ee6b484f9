"""Weekly seasons. The global and friends boards need no tables: ``accounts.User.score`` /
``score_reached_at`` are their truth, and the Redis index is derived from them.

A season runs from Monday 00:00 UTC to the next Monday. A member's entry is created the first
time their score moves in the season, with ``start_score`` = the score they had when it opened
(their score just before that first move; their first score ever if they had none). ``points``
is then always ``current score − start_score``. Closed seasons are read-only: ``final_rank``
holds the final standings (standard competition ranking).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Season(models.Model):
    starts_at = models.DateTimeField(unique=True)
    ends_at = models.DateTimeField()
    closed = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="season_has_length"),
        ]

    def __str__(self) -> str:
        return f"Week of {self.starts_at:%Y-%m-%d}"


class SeasonEntry(models.Model):
    season = models.ForeignKey(Season, on_delete=models.CASCADE, related_name="entries")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="season_entries")
    #: The member's score when the season opened (or their first score, if they had none).
    start_score = models.PositiveSmallIntegerField()
    #: Points gained in the season (may be negative): the current score − start_score.
    points = models.IntegerField(default=0)
    #: When ``points`` last changed: ties are listed by who got there first.
    reached_at = models.DateTimeField()
    #: Filled when the season closes (standard competition ranking among listed members).
    final_rank = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["season", "member"], name="season_entry_once"),
        ]
        indexes = [models.Index(fields=["season", "-points", "reached_at"], name="season_entry_rank")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.season_id}: {self.points:+d}"

