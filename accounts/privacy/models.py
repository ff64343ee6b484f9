"""Members' data exports (DESIGN.md §10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DataExport(models.Model):
    """A member's request for everything Credo holds about them, built by a task into a JSON file
    (storage ``exports``) downloadable for a day through a signed link (``accounts.privacy.services``)."""

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
        db_table = "scoring_dataexport"  # the table it was created with, before privacy moved to accounts
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export #{self.pk} of {self.member_id} ({self.status})"

