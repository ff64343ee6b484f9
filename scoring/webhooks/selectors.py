"""Reads of webhooks: a partner's delivery attempts."""

from __future__ import annotations

from django.db.models import QuerySet

from scoring.ingestion.models import Partner
from scoring.webhooks.models import WebhookAttempt


def deliveries_of(*, partner: Partner) -> QuerySet[WebhookAttempt]:
    """The partner's own delivery attempts, newest first (by id: a page's cursor is the last id),
    with their message."""
    return WebhookAttempt.objects.filter(partner=partner).select_related("message").order_by("-id")
