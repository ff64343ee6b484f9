"""Moderation's records: members' disputes of events, flags on profiles, and the append-only
audit log of every moderator action (DESIGN.md §10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scoring.ingestion.models import Event

#: The longest reason or answer a member or moderator writes (disputes, flags, the audit log).
REASON_MAX_LENGTH = 1000


class Dispute(models.Model):
    """A member disputes one of their events. At most one open dispute per event.

    Accepting reverses the event (rescore + contagion); rejecting keeps it, with a reason the
    member sees. Rows are never deleted.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The moderator's words to the member (required when rejecting).
    resolution = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["created_at", "id"]  # the queue: oldest first
        constraints = [
            models.UniqueConstraint(fields=["event"], condition=Q(status="open"), name="one_open_dispute_per_event")
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="dispute_queue")]

    def __str__(self) -> str:
        return f"dispute #{self.pk} ({self.status}) of event {self.event_id}"


class Flag(models.Model):
    """A member flags another member's profile for moderators. The flagged member is never told
    who flagged them."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld"
        DISMISSED = "dismissed", "Dismissed"

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flags_made")
    target = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flags_received")
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "target"], condition=Q(status="open"), name="one_open_flag_per_pair"
            ),
            models.CheckConstraint(condition=~Q(reporter=models.F("target")), name="flag_not_self"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="flag_queue")]

    def __str__(self) -> str:
        return f"flag #{self.pk} ({self.status}) on {self.target_id}"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Append-only: bulk updates and deletes are refused too."""

    def update(self, **kwargs: object) -> int:
        raise PermissionError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class AuditEntry(models.Model):
    """One moderator action: who, when, what, why, and the state before and after (JSON).

    Append-only: rows are written once by ``scoring.moderation.services.audit_record`` and never changed
    or deleted. An action is undone by another action, itself audited, whose ``undoes`` points
    here (at most once: a unique constraint).
    """

    class Action(models.TextChoices):
        DISPUTE_ACCEPT = "dispute_accept", "Dispute accepted (event reversed)"
        DISPUTE_REJECT = "dispute_reject", "Dispute rejected"
        DISPUTE_REOPEN = "dispute_reopen", "Dispute reopened"
        EVENT_REVERSE = "event_reverse", "Event reversed"
        EVENT_REINSTATE = "event_reinstate", "Event reinstated"
        EVENT_CORRECT = "event_correct", "Event corrected"
        MEMBER_FREEZE = "member_freeze", "Account frozen"
        MEMBER_UNFREEZE = "member_unfreeze", "Account unfrozen"
        MEMBER_EDIT = "member_edit", "Member profile edited"
        FRIENDSHIP_CUT = "friendship_cut", "Friendship cut"
        FRIENDSHIP_RESTORE = "friendship_restore", "Friendship restored"
        FLAG_UPHOLD = "flag_uphold", "Flag upheld"
        FLAG_DISMISS = "flag_dismiss", "Flag dismissed"
        FLAG_REOPEN = "flag_reopen", "Flag reopened"
        CSV_EXPORT = "csv_export", "CSV export"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    #: Null for the system (e.g. a freeze that ended on its date).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)  # as it was then: survives renames
    action = models.CharField(max_length=32, choices=Action.choices)
    #: The member concerned (their moderation history), if any.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="moderation_history"
    )
    target_type = models.CharField(max_length=40)  # "event", "dispute", "member", "friendship", "flag", …
    target_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    undoes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="undone_by"
    )

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        constraints = [
            models.UniqueConstraint(fields=["undoes"], condition=Q(undoes__isnull=False), name="undone_at_most_once")
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="audit_member_time")]
        permissions = [
            ("moderate_events", "Can reverse, reinstate and correct events"),
            ("freeze_member", "Can freeze and unfreeze members"),
            ("undo_action", "Can undo a moderator action"),
            ("view_suspicious_patterns", "Can view the suspicious patterns report"),
            ("export_csv", "Can export admin lists as CSV"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.get_action_display()}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")

