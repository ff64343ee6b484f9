"""Webhooks listen to the layers below them that may not import them (ingestion)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from scoring.ingestion.signals import consent_revoked
from scoring.webhooks.models import WebhookType
from scoring.webhooks.outbox import webhook_record
from scoring.webhooks.payloads import consent_data


@receiver(consent_revoked, dispatch_uid="scoring.webhooks.consent_revoked")
def on_consent_revoked(sender: Any, username: str, partner_id: int, revoked_at: datetime, **kwargs: Any) -> None:
    # Inside the revocation's transaction (see the signal): the message commits with it.
    webhook_record(partner_id=partner_id, type=WebhookType.CONSENT_REVOKED,
                   data=consent_data(username=username, revoked_at=revoked_at))
