"""A member's score state (the current score and its parts) and the ledger of its changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scoring.ingestion.models import Event

#: The longest ledger line (``ScoreChange.explanation``); longer texts are cut to it.
EXPLANATION_MAX_LENGTH = 300


def scoring_date(moment: datetime | None = None) -> date:
    """The calendar date (UTC) a score computed at ``moment`` (default: now) is computed for."""
    return (moment or timezone.now()).astimezone(UTC).date()


class ScoreState(models.Model):
    """A member's current score and its parts (the exact floats, for explanations)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="score_state"
    )
    base = models.FloatField()
    social = models.FloatField(default=0.0)  # points from friend contagion, clamped to ±C
    score = models.PositiveSmallIntegerField()
    factors = models.JSONField()  # {"<factor name>": value in [0, 1]}
    #: The date the base was computed for: events age against it (``compute_base``'s ``as_of``),
    #: so base and factors are exactly ``compute_base(events, profile, as_of=as_of)``.
    as_of = models.DateField(default=scoring_date)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.member_id}: {self.score}"


class ScoreChange(models.Model):
    """The ledger: one row per change of a member's score, with its cause and explanation."""

    class Cause(models.TextChoices):
        EVENT = "event", "Event"
        PROFILE = "profile", "Profile completeness"
        CONTAGION = "contagion", "Friend contagion"
        MODERATION = "moderation", "Moderation"
        RECALIBRATION = "recalibration", "Model recalibration"
        AGEING = "ageing", "Time"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="score_changes"
    )
    # A default, not auto_now_add, so that a replay of history (the demo world) can date its rows.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    cause = models.CharField(max_length=16, choices=Cause.choices)
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.PROTECT, related_name="score_changes"
    )
    old_score = models.PositiveSmallIntegerField(null=True)
    new_score = models.PositiveSmallIntegerField()
    old_base = models.FloatField(null=True)
    new_base = models.FloatField()
    old_social = models.FloatField(null=True)
    new_social = models.FloatField()
    old_factors = models.JSONField(null=True)
    new_factors = models.JSONField()
    explanation = models.CharField(max_length=EXPLANATION_MAX_LENGTH)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The ledger proves exactly-once: an event is applied by at most one row.
            models.UniqueConstraint(fields=["event"], condition=Q(cause="event"), name="event_applied_once")
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="scorechange_member_time")]

    def __str__(self) -> str:
        return self.explanation

    @property
    def delta(self) -> int:
        return self.new_score - (self.old_score if self.old_score is not None else self.new_score)



class FollowUp(models.Model):
    """The ledger's outbox of derived work (DESIGN.md §2.4): a member whose score or base moved
    and whose derived state has not been confirmed in step yet.

    Written in the same transaction as the score change (``scoring.ledger.follow_up``), so a
    worker that dies right after the commit cannot lose the work: ``score`` marks are cleared
    once every receiver of the score's announcement (boards, live, gamification) succeeded;
    ``base`` marks once friend contagion folded the new base in. A periodic sweeper announces
    again what is still marked after ``follow_up.SWEEP_AFTER``. ``token`` changes at every new
    mark, so a slow clear never removes a mark written after the work it finished.
    """

    class Kind(models.TextChoices):
        SCORE = "score", "Displayed score moved"
        BASE = "base", "Base moved"

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # ``score``: the displayed score before the first change not yet followed up, and its cause.
    old_score = models.PositiveSmallIntegerField(null=True)
    cause = models.CharField(max_length=16, blank=True)
    token = models.BigIntegerField()
    marked_at = models.DateTimeField(db_index=True)
    swept = models.PositiveIntegerField(default=0)  # how many times the sweeper had to announce it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "kind"], name="one_follow_up_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.member_id}"
