"""Gamification's tables: badges awarded, the perk catalogue and its grants, challenges between
friends and their participants. The rules that fill them live in ``badges``, ``perks`` and
``challenges``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from scoring.model import PARAMS

#: Lengths of the text columns that services fill from longer text (cut to fit).
BADGE_KEY_LENGTH = 60
BADGE_EXPLANATION_LENGTH = 300
REVOKE_REASON_LENGTH = 300


class BadgeAward(models.Model):
    """A badge a member earned. The catalogue and its rules are ``badges``.

    Awarded once: ``(member, badge, tier, key)`` is unique, so evaluating a rule twice, or
    concurrently, awards once. ``key`` tells repeatable badges apart ("season:12" for most
    improved of that week, "challenge:7"); it is empty for one-off badges.
    """

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="badges")
    badge = models.CharField(max_length=40)
    tier = models.CharField(max_length=16, blank=True)  # "bronze" | "silver" | "gold" | ""
    key = models.CharField(max_length=BADGE_KEY_LENGTH, blank=True)
    awarded_at = models.DateTimeField()
    #: One line, like a score change's: "Awarded for 6 months of on-time payments, last one on 3 Nov 2026".
    explanation = models.CharField(max_length=BADGE_EXPLANATION_LENGTH)

    class Meta:
        ordering = ["-awarded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "badge", "tier", "key"], name="badge_awarded_once"),
        ]

    def __str__(self) -> str:
        return f"{self.badge}{'/' + self.tier if self.tier else ''} for {self.member_id}"


class Perk(models.Model):
    """A benefit members unlock at a score (the catalogue, managed in the admin)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(max_length=1000)
    #: Offered by (e.g. a partner's name); empty for Credo's own perks.
    provider = models.CharField(max_length=100, blank=True)
    min_score = models.PositiveSmallIntegerField(
        help_text=f"Unlocked at this score and above ({PARAMS.score_min}–{PARAMS.score_max}).")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["min_score", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min_score__gte=PARAMS.score_min, min_score__lte=PARAMS.score_max),
                                   name="perk_min_score_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.min_score}+)"


class PerkGrant(models.Model):
    """A member holds ``perk`` from ``granted_at`` until ``revoked_at`` (their score fell below it,
    or the perk was withdrawn), with the reason. At most one open grant per member and perk."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="perk_grants")
    perk = models.ForeignKey(Perk, on_delete=models.CASCADE, related_name="grants")
    granted_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=REVOKE_REASON_LENGTH, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "perk"], condition=models.Q(revoked_at__isnull=True),
                                    name="perk_held_once"),
        ]

    def __str__(self) -> str:
        return f"{self.perk_id} for {self.member_id}"


class Challenge(models.Model):
    """"Who gains more points": a member against one or more friends, from ``starts_at`` to
    ``ends_at``. Participants are ``ChallengeParticipant`` rows (the creator included)."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for answers"
        ACTIVE = "active", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="challenges_created")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="challenge_has_length"),
        ]

    def __str__(self) -> str:
        return f"challenge #{self.pk} ({self.status})"


class ChallengeParticipant(models.Model):
    class Answer(models.TextChoices):
        INVITED = "invited", "Invited"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="participants")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="challenge_entries")
    answer = models.CharField(max_length=16, choices=Answer.choices, default=Answer.INVITED)
    answered_at = models.DateTimeField(null=True, blank=True)
    #: The member's score when their points started counting (null until then).
    start_score = models.PositiveSmallIntegerField(null=True, blank=True)
    #: Points gained so far (may be negative); frozen when the challenge finishes.
    points = models.IntegerField(default=0)
    final_rank = models.PositiveIntegerField(null=True, blank=True)
    is_winner = models.BooleanField(default=False)

    class Meta:
        ordering = ["challenge", "id"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "member"], name="challenge_participant_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in challenge {self.challenge_id}"

