"""Configuring an endpoint, its secret shown once, rotation with two live secrets, replay."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook

from config.kernel.errors import DomainError
from scoring.webhooks import delivery
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookSecret, WebhookType
from scoring.webhooks.outbox import webhook_record
from scoring.webhooks.services import (
    NoEndpoint,
    WebhookCode,
    webhook_endpoint_disable,
    webhook_endpoint_set,
    webhook_message_replay,
    webhook_secret_rotate,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PUBLIC = "https://93.184.215.14/hooks"


def _send(partner_id: int, name: str) -> None:
    webhook_record(partner_id=partner_id, type=WebhookType.EVENT_SCORED, data={"external_id": name})
    delivery.webhooks_deliver(partner_id=partner_id)


def test_the_secret_is_shown_when_first_set_and_never_again(acme):
    first = webhook_endpoint_set(partner=acme, url=PUBLIC, types=["event.scored", "event.failed", "event.scored"],
                                 actor_name="partner:acme")
    assert first.url == PUBLIC
    assert first.events == ["event.scored", "event.failed"]
    assert first.secret is not None and first.secret.startswith("whsec_")
    assert len(base64.b64decode(first.secret.removeprefix("whsec_"))) == 32
    sealed = bytes(WebhookSecret.objects.get().secret_encrypted)
    assert first.secret.encode() not in sealed and first.secret.removeprefix("whsec_").encode() not in sealed

    again = webhook_endpoint_set(partner=acme, url=PUBLIC + "/v2", types=["consent.revoked"], actor_name="partner:acme")
    assert (again.url, again.events, again.secret) == (PUBLIC + "/v2", ["consent.revoked"], None)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.types, endpoint.secrets.count()) == (PUBLIC + "/v2", ["consent.revoked"], 1)


def test_unknown_types_are_refused(acme):
    with pytest.raises(DomainError) as refused:
        webhook_endpoint_set(partner=acme, url=PUBLIC, types=["event.scored", "event.deleted"], actor_name="t")
    assert (refused.value.code, refused.value.detail) == (
        WebhookCode.UNKNOWN_TYPE, "Unknown webhook type: event.deleted.")
    assert WebhookEndpoint.objects.count() == 0


def test_configuring_again_enables_a_disabled_endpoint(acme):
    webhook_endpoint_set(partner=acme, url=PUBLIC, types=["event.scored"], actor_name="t")
    endpoint = WebhookEndpoint.objects.get()
    assert webhook_endpoint_disable(endpoint_id=endpoint.pk, reason="maintenance", actor_name="admin:olga") is True
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "maintenance (admin:olga)")
    webhook_endpoint_set(partner=acme, url=PUBLIC, types=["event.scored"], actor_name="partner:acme")
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason, endpoint.disabled_at) == (True, "", None)


def test_rotating_without_an_endpoint_is_refused(acme):
    with pytest.raises(NoEndpoint):
        webhook_secret_rotate(partner=acme, actor_name="t")


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
        acme, acme_endpoint, receiver, settings):  # type: ignore[no-untyped-def]
    old = acme_endpoint.secret or ""
    settings.WEBHOOKS_SECRET_OVERLAP = timedelta(hours=24)
    with time_machine.travel(T0, tick=False) as clock:
        rotated = webhook_secret_rotate(partner=acme, actor_name="partner:acme")
        new = rotated.secret or ""
        assert new.startswith("whsec_") and new != old
        assert (rotated.url, rotated.events) == (receiver.url, WebhookType.values)
        receiver.secrets = [old]  # the partner has not switched yet
        _send(acme.pk, "a")
        request = receiver.requests[-1]
        assert request.verified is True
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        Webhook(new).verify(request.body, request.headers)  # the switched receiver accepts it too

        clock.shift(timedelta(hours=24, seconds=1))
        receiver.secrets = [new]
        _send(acme.pk, "b")
        request = receiver.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        assert request.verified is True
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(old).verify(request.body, request.headers)


def test_at_most_two_secrets_sign_whatever_the_rotations(acme, acme_endpoint, receiver):  # type: ignore[no-untyped-def]
    secrets = [acme_endpoint.secret or ""]
    for _ in range(3):
        secrets.append(webhook_secret_rotate(partner=acme, actor_name="t").secret or "")
    receiver.secrets = secrets[-2:]
    _send(acme.pk, "a")
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for stale in secrets[:2]:
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(stale).verify(request.body, request.headers)
    for live in secrets[2:]:
        Webhook(live).verify(request.body, request.headers)


def test_a_replay_sends_the_same_message_again_and_records_who_asked(
        acme, acme_endpoint, receiver, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    _send(acme.pk, "a")
    message = WebhookMessage.objects.get()
    assert message.status == "delivered"
    with django_capture_on_commit_callbacks(execute=True):
        webhook_message_replay(message_id=message.pk, actor_name="admin:olga")
    assert [r.msg_id for r in receiver.requests] == [message.msg_id, message.msg_id]
    assert list(WebhookAttempt.objects.order_by("id").values_list("triggered_by", "ok")) == [("", True),
                                                                                            ("admin:olga", True)]
    message.refresh_from_db()
    assert (message.status, message.replayed_by) == ("delivered", "")
