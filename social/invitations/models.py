"""Invitations: single-use links to become a member's friend (``social.invitations.services``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class Invitation(models.Model):
    """An invitation link. Only the SHA-256 of its token is stored: the token itself is shown
    once, to its creator, and lives in the link."""

    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations_sent"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    #: Where the link was emailed, if it was (blank: a link to share by hand).
    email = models.EmailField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["inviter", "used_at", "expires_at"], name="invitation_open"),
            models.Index(fields=["inviter", "emailed_at"], name="invitation_emailed"),
        ]

    def __str__(self) -> str:
        return f"invitation #{self.pk} by {self.inviter_id}"

    def status_at(self, now: datetime) -> str:
        if self.used_at is not None:
            return "used"
        if self.expires_at <= now:
            return "expired"
        return "open"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

