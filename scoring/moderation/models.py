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

    The partner that furnished the event is asked first (``event.disputed``) and answers by
    ``respond_by``: ``withdrawn`` reverses the event (the dispute is accepted), ``corrected``
    replaces its facts (the dispute ends ``corrected``), ``confirmed`` sends it to the moderators
    with the partner's note beside the member's reason; no answer by ``respond_by`` resolves it in
    the member's favour. A moderator may decide an open dispute at any stage: accepting reverses
    the event (rescore + contagion); rejecting keeps it, with a reason the member sees. Every step
    is a ``DisputeStep``. Rows are never deleted.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        #: The partner corrected the event's facts: it counts again, as corrected.
        CORRECTED = "corrected", "Corrected"

    class Verdict(models.TextChoices):
        """The furnishing partner's answer (``POST partner/events/{external_id}/dispute-response/``)."""

        CONFIRMED = "confirmed", "Confirmed by the partner"
        CORRECTED = "corrected", "Corrected by the partner"
        WITHDRAWN = "withdrawn", "Withdrawn by the partner"

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
    #: When the furnishing partner must have answered (opened + ``DISPUTE_FURNISHER_DAYS``); null for
    #: disputes opened before partners were asked.
    respond_by = models.DateTimeField(null=True, blank=True)
    partner_verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    #: The partner's words beside the member's reason (shown to the member and the moderators).
    partner_note = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)
    partner_answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]  # the queue: oldest first
        constraints = [
            models.UniqueConstraint(fields=["event"], condition=Q(status="open"), name="one_open_dispute_per_event")
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="dispute_queue"),
            # The sweep of disputes the partner left unanswered past respond_by.
            models.Index(fields=["respond_by"], condition=Q(status="open", partner_verdict=""),
                         name="dispute_furnisher_due"),
        ]

    def __str__(self) -> str:
        return f"dispute #{self.pk} ({self.status}) of event {self.event_id}"


class DisputeStep(models.Model):
    """One step of a dispute's timeline, as the member reads it: opened, sent to the partner, the
    partner's answer, a moderator's decision, the deadline passing. Written by the services that
    take the step, in their transaction; never changed."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Dispute opened"
        SENT = "sent", "Sent to the partner"
        PARTNER_CONFIRMED = "partner_confirmed", "The partner confirmed the event"
        PARTNER_CORRECTED = "partner_corrected", "The partner corrected the event"
        PARTNER_WITHDREW = "partner_withdrew", "The partner withdrew the event"
        UNANSWERED = "unanswered", "The partner did not answer in time"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        REOPENED = "reopened", "Reopened"

    class By(models.TextChoices):
        MEMBER = "member", "You"
        PARTNER = "partner", "The partner"
        MODERATOR = "moderator", "A moderator"
        SYSTEM = "system", "Credo"

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="steps")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    by = models.CharField(max_length=12, choices=By.choices)
    #: What the member reads for this step.
    text = models.TextField(max_length=2 * REASON_MAX_LENGTH + 200)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dispute", "created_at"], name="dispute_step_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


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
        DISPUTE_PARTNER_ANSWER = "dispute_partner_answer", "Partner answered a dispute"
        DISPUTE_UNANSWERED = "dispute_unanswered", "Dispute unanswered by the partner (resolved for the member)"
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

