"""Writes of webhook configuration: a partner's endpoint, its secrets, operators' actions.

The secret is returned only when it is created (an endpoint's first configuration, a rotation):
it is stored encrypted and never shown again. Operators' actions are logged with who acted
(``actor_name``: "admin:<username>", "partner:<slug>").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.kernel.after_commit import enqueue_on_commit
from config.kernel.errors import DomainError
from scoring.ingestion.models import Partner
from scoring.webhooks import delivery, signing
from scoring.webhooks.guard import destinations, url_for_log
from scoring.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookSecret, WebhookType
from scoring.webhooks.outbox import DELIVER_TASK

logger = logging.getLogger(__name__)


class WebhookCode:
    UNKNOWN_TYPE = "webhook_unknown_type"
    NO_ENDPOINT = "webhook_not_configured"


class NoEndpoint(DomainError):
    status, code, detail = 404, WebhookCode.NO_ENDPOINT, "No webhook endpoint is configured: PUT one first."


@dataclass(frozen=True)
class EndpointSet:
    """What configuring an endpoint answers: ``secret`` only when it was just created."""

    url: str
    events: list[str]
    secret: str | None


def types_clean(types: Sequence[str]) -> list[str]:
    """The subscribed types, known ones only, without repeats, in the order of ``WebhookType``."""
    unknown = sorted(set(types) - set(WebhookType.values))
    if unknown:
        raise DomainError(f"Unknown webhook type: {unknown[0]}.", code=WebhookCode.UNKNOWN_TYPE)
    return [t for t in WebhookType.values if t in set(types)]


def _secret_add(endpoint: WebhookEndpoint) -> str:
    secret = signing.secret_new()
    WebhookSecret.objects.create(endpoint=endpoint, secret_encrypted=signing.secret_seal(secret))
    return secret


@transaction.atomic
def webhook_endpoint_set(*, partner: Partner, url: str, types: Sequence[str], actor_name: str) -> EndpointSet:
    """Configure the partner's endpoint (create it, or change its URL and types). The URL must
    pass the guard now (and passes it again at each delivery). Configuring enables an endpoint
    that was disabled: what waits in its outbox goes out, in order."""
    events = types_clean(types)
    destinations(url)
    # The partner's row first: two first configurations at once would otherwise both find no
    # endpoint (a lock on a row that does not exist locks nothing) and the second insert fail.
    Partner.objects.select_for_update().filter(pk=partner.pk).first()
    endpoint = WebhookEndpoint.objects.select_for_update().filter(partner=partner).first()
    secret: str | None = None
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(partner=partner, url=url, types=events)
        secret = _secret_add(endpoint)
    else:
        was_disabled = not endpoint.is_enabled
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            url=url, types=events, is_enabled=True, disabled_at=None, disabled_reason="", updated_at=timezone.now())
        if was_disabled:
            enqueue_on_commit(DELIVER_TASK, partner.pk)
        if not WebhookSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
                                            endpoint=endpoint).exists():
            secret = _secret_add(endpoint)
    logger.info("webhook endpoint of %s set to %s %s by %s", partner.slug, url_for_log(url), events, actor_name)
    return EndpointSet(url=url, events=events, secret=secret)


@transaction.atomic
def webhook_secret_rotate(*, partner: Partner, actor_name: str) -> EndpointSet:
    """A new secret for the partner's endpoint, returned once. The current one keeps signing
    beside it for ``WEBHOOKS_SECRET_OVERLAP`` (the receiver switches meanwhile); any older one
    stops at once, so at most two sign."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(partner=partner).first()
    if endpoint is None:
        raise NoEndpoint()
    now = timezone.now()
    live = list(WebhookSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now),
                                             endpoint=endpoint).order_by("-created_at", "-id"))
    if live:
        WebhookSecret.objects.filter(pk=live[0].pk).update(expires_at=now + settings.WEBHOOKS_SECRET_OVERLAP)
        WebhookSecret.objects.filter(pk__in=[s.pk for s in live[1:]]).update(expires_at=now)
    secret = _secret_add(endpoint)
    logger.info("webhook secret of %s rotated by %s", partner.slug, actor_name)
    return EndpointSet(url=endpoint.url, events=list(endpoint.types), secret=secret)


@transaction.atomic
def webhook_endpoint_disable(*, endpoint_id: int, reason: str, actor_name: str) -> bool:
    """An operator disables an endpoint: nothing is sent; its outbox (new messages too) waits."""
    logger.warning("webhook endpoint %s disabled by %s: %s", endpoint_id, actor_name, reason)
    return delivery.endpoint_disable(endpoint_id=endpoint_id, reason=f"{reason} ({actor_name})")


@transaction.atomic
def webhook_endpoint_enable(*, endpoint_id: int, actor_name: str) -> bool:
    """Enable an endpoint again: its waiting messages go out, in order."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.is_enabled:
        return False
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(is_enabled=True, disabled_at=None, disabled_reason="")
    logger.warning("webhook endpoint %s (%s) enabled by %s", endpoint_id, url_for_log(endpoint.url), actor_name)
    enqueue_on_commit(DELIVER_TASK, endpoint.partner_id)
    return True


@transaction.atomic
def webhook_message_replay(*, message_id: int, actor_name: str) -> None:
    """Send a message again (same ``webhook-id``; receivers deduplicate on it), with a new round
    of the retry schedule; its next attempt records who asked. It goes out when it is its
    partner's oldest pending message."""
    message = WebhookMessage.objects.select_for_update().get(pk=message_id)
    WebhookMessage.objects.filter(pk=message.pk).update(
        status=WebhookMessage.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), replayed_by=actor_name)
    logger.warning("webhook %s (%s, partner %s) replayed by %s", message.msg_id, message.type, message.partner_id,
                   actor_name)
    enqueue_on_commit(DELIVER_TASK, message.partner_id)
