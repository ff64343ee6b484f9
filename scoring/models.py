"""Partners, their keys and members' consent; events (the outbox); the score state and ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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


class ContagionGraph(models.Model):
    """One row whose ``version`` changes whenever ``ContagionEdge`` changes, in the same transaction.

    On PostgreSQL a statement trigger on the edge table sets it from a sequence (migration 0005),
    so every writer is covered — the engine, the rebuild, a cascade from a deleted member — and a
    value is never reused, not even after a rollback. A worker keys its in-memory adjacency on it
    (``scoring.contagion_store.DbStore.snapshot``). SQLite has no trigger and no such cache.
    """

    version = models.BigIntegerField(default=0)
    # ``contagion_tick`` has applied every friendship that vested up to here; None: not yet
    # (the next tick compares the whole graph).
    vested_through = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"contagion graph v{self.version}"


# --- moderation, disputes, flags and data rights (DESIGN.md §10; services in scoring.moderation) ---


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
    reason = models.TextField(max_length=1000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The moderator's words to the member (required when rejecting).
    resolution = models.TextField(max_length=1000, blank=True)

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
    reason = models.TextField(max_length=1000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(max_length=1000, blank=True)

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

    Append-only: rows are written once by ``scoring.moderation.audit_record`` and never changed
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
    reason = models.TextField(max_length=1000)
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


class DataExport(models.Model):
    """A member's request for everything Credo holds about them, built by a task into a JSON file
    (storage ``exports``) downloadable for a day through a signed link (scoring.privacy)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export #{self.pk} of {self.member_id} ({self.status})"
