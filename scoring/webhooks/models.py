"""Outgoing webhooks (DESIGN.md §8, "Partner status and webhooks"): a partner's endpoint, its
signing secrets, the outbox of messages and every delivery attempt.

The outbox row is written in the transaction of its cause (``outbox.webhook_record``), so a
message exists exactly when its cause committed; ``delivery`` sends them in order per partner.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from scoring.ingestion.models import Partner


class WebhookType(models.TextChoices):
    """The message types a partner may subscribe to: the names partners rely on."""

    EVENT_SCORED = "event.scored", "An event was scored"
    EVENT_FAILED = "event.failed", "An event could not be scored"
    EVENT_DISPUTED = "event.disputed", "A member disputed an event"
    DISPUTE_RESOLVED = "dispute.resolved", "A dispute was resolved"
    EVENT_REVERSED = "event.reversed", "An event was reversed"
    EVENT_CORRECTED = "event.corrected", "An event was corrected"
    CONSENT_REVOKED = "consent.revoked", "A member disconnected the partner"


class WebhookEndpoint(models.Model):
    """Where a partner receives its webhooks (one endpoint per partner) and which types.

    Disabled by an operator, or by delivery after a message's last retry failed
    (``disabled_reason`` says which); while disabled its messages are still recorded and wait in
    its outbox, in order, until the endpoint is enabled again."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="webhook_endpoint")
    url = models.URLField(max_length=2000)
    #: Subscribed ``WebhookType`` values (a JSON list: the embedded mode's SQLite has no arrays).
    types = models.JSONField(default=list)
    is_enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: One deliverer at a time per partner (order): taken with a conditional update, expires on its
    #: own when a worker dies mid-delivery.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["partner__name"]

    def __str__(self) -> str:
        return f"{self.partner} → {self.url}"


class WebhookSecret(models.Model):
    """One signing secret of an endpoint (``whsec_`` + base64 of its bytes, Standard Webhooks).

    Stored encrypted like partners' keys and shown once. Rotation gives the endpoint a new
    secret and lets the previous one expire after an overlap: until then messages carry a
    signature for each live secret (the spec's space-separated list)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    #: Null while it is the current secret; set when a newer one replaces it.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret #{self.pk} of {self.endpoint_id}"


class WebhookMessage(models.Model):
    """One message of the outbox. Its ``msg_id`` is the ``webhook-id`` header, the same on every
    attempt (receivers deduplicate on it); a partner's messages go out in ``id`` order, each
    waiting until the one before it is delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # given up after the last retry

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_messages")
    msg_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=32, choices=WebhookType.choices)
    #: The message's ``data`` (``payloads``): what the partner may see, never a score.
    data = models.JSONField()
    created_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: Failed attempts in the current round of the retry schedule (a replay starts a new round).
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    #: Who asked to send it again ("admin:<username>"), until its next attempt records it.
    replayed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The head of each partner's queue, for delivery and the sweeper.
            models.Index(fields=["partner", "id"], condition=Q(status="pending"), name="webhook_msg_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"


class WebhookAttempt(models.Model):
    """One delivery attempt of a message: when, what came back, how long it took. Never the
    request's headers or secrets; the response's body only as a short excerpt."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="delivery_attempts")
    #: The partner, denormalised: its deliveries page reads attempts by partner.
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    attempted_at = models.DateTimeField()
    #: The HTTP status, or null when there was no response (refused, timeout, connection error).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    #: Who asked for it when it was not the schedule: "admin:<username>" for a replay.
    triggered_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["partner", "-attempted_at", "-id"], name="webhook_attempt_partner")]

    def __str__(self) -> str:
        return f"{self.message_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error[:40]}"
