"""Partners, their keys and members' consent; events (the outbox); the score state and ledger."""

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


class ScoreState(models.Model):
    """A member's current score and its parts (the exact floats, for explanations)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="score_state"
    )
    base = models.FloatField()
    social = models.FloatField(default=0.0)  # points from friend contagion, clamped to ±C
    score = models.PositiveSmallIntegerField()
    factors = models.JSONField()  # {"<factor name>": value in [0, 1]}
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

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="score_changes"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
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
    explanation = models.CharField(max_length=300)

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


class ContagionNode(models.Model):
    """A member's row in the friend-contagion engine (DESIGN.md §3), in deviation points.

    ``d`` = base − 650 as folded in, ``s`` the social signal, ``r`` the residual with the invariant
    r = αP(d + s) − s, ``deg`` the member's active contagion friendships, ``version`` bumped on
    every friendship change and every base change (optimistic concurrency, see
    scoring.contagion.engine). Derived state: ``manage.py contagion_rebuild`` recomputes it.
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="contagion"
    )
    d = models.FloatField(default=0.0)
    s = models.FloatField(default=0.0)
    r = models.FloatField(default=0.0)
    deg = models.IntegerField(default=0)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.member_id}: s={self.s:.3f} r={self.r:.3f}"


class ContagionEdge(models.Model):
    """A friendship folded into the contagion state (``member_a`` < ``member_b``).

    The social app's friendships are the truth; this table is what the engine has applied, and
    ``contagion_edges_sync`` moves it towards ``social.selectors.vested_edges()``.
    """

    member_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    member_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member_a", "member_b"], name="one_contagion_edge_per_pair"),
            models.CheckConstraint(condition=Q(member_a__lt=models.F("member_b")), name="contagion_edge_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.member_a_id}–{self.member_b_id}"
