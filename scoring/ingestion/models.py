"""Partners, their keys and members' consent; idempotency records; events (the outbox)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Partner(models.Model):
    """A company that sends behaviour events through the signed ingestion API."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerKey(models.Model):
    """One signing secret of a partner. Up to two are live at once, so secrets can rotate.

    The secret is needed to verify HMACs, so it cannot be hashed: it is stored encrypted
    (Fernet, key from settings.CREDO_SECRETS_KEY) and shown once, at creation.
    """

    MAX_LIVE = 2

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    key_id = models.CharField(max_length=40, unique=True)
    secret_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id


class PartnerKeyAudit(models.Model):
    """One operator action on a partner's signing keys: who, when, which key, why. Written only by
    ``scoring.ingestion.partners`` (``manage.py partner_key``, the partners' admin); never changed."""

    class Action(models.TextChoices):
        ISSUED = "issued", "Key issued"
        REVOKED = "revoked", "Key revoked"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="key_audit")
    key_id = models.CharField(max_length=40)
    action = models.CharField(max_length=16, choices=Action.choices)
    #: Who acted, as it was then: "admin:<username>" or "manage.py:<os user>" (a name, not a key
    #: to the member table: operators' actions are not a member's data).
    actor_name = models.CharField(max_length=150)
    reason = models.TextField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.get_action_display()} {self.key_id}"


class PartnerConsent(models.Model):
    """A member allowed a partner to send their events. Disconnecting sets ``revoked_at``."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_consents"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="consents")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "partner"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_consent_per_partner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.partner_id}"


class IdempotencyRecord(models.Model):
    """What a partner's ``Idempotency-Key`` produced: the request's hash and the response.

    ``in_flight`` until the request finished; a crashed request's record may be taken over
    after ``locked_until``.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        DONE = "done"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    locked_until = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="one_record_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"


class Event(models.Model):
    """An accepted behaviour event. The row is the outbox: ``pending`` until it is scored.

    Exactly-once: (partner, external_id) is unique, and scoring an event writes its one
    ``ScoreChange`` row (unique per event) in the same transaction that marks it scored.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        BILL_PAYMENT = "bill_payment", "Bill payment"
        CARD_REPAYMENT = "card_repayment", "Card repayment"

    class Status(models.TextChoices):
        PENDING = "pending"
        SCORED = "scored"
        FAILED = "failed"
        REVERSED = "reversed"

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="events")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="events")
    external_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3)
    merchant_category = models.CharField(max_length=40, blank=True)
    occurred_at = models.DateTimeField()
    due_date = models.DateField(null=True, blank=True)
    paid_date = models.DateField(null=True, blank=True)
    missed = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    received_at = models.DateTimeField(auto_now_add=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    #: When its facts were last corrected (a moderator, or the partner answering a dispute).
    corrected_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="one_event_per_external_id")
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="event_member_status"),
            models.Index(fields=["status", "received_at"], name="event_status_received"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} for {self.member_id}"

