"""Operators in the admin: configure an endpoint (secret shown once), see a disabled one's notice,
every attempt of a message, and send a message again."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from scoring.webhooks import delivery
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookType
from scoring.webhooks.outbox import webhook_record

pytestmark = pytest.mark.django_db


def _notices(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_operator_configures_an_endpoint_and_sees_its_secret_once(admin_client, acme):  # type: ignore[no-untyped-def]
    refused = admin_client.post("/admin/scoring/webhookendpoint/add/", {
        "partner": acme.pk, "url": "https://10.0.0.1/hooks", "types": ["event.scored"]})
    assert refused.status_code == 200
    assert "private or reserved address" in refused.content.decode()
    assert WebhookEndpoint.objects.count() == 0

    added = admin_client.post("/admin/scoring/webhookendpoint/add/", {
        "partner": acme.pk, "url": "https://93.184.215.14/hooks", "types": ["event.scored", "consent.revoked"]},
        follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.types) == ("https://93.184.215.14/hooks", ["event.scored", "consent.revoked"])
    [secret_notice] = [n for n in _notices(added) if "webhook secret" in n]
    assert "whsec_" in secret_notice and "shown once" in secret_notice

    changed = admin_client.post(f"/admin/scoring/webhookendpoint/{endpoint.pk}/change/", {
        "url": "https://93.184.215.14/v2", "types": ["event.failed"]}, follow=True)
    assert not [n for n in _notices(changed) if "webhook secret" in n]
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.types, endpoint.secrets.count()) == ("https://93.184.215.14/v2", ["event.failed"], 1)


def test_a_disabled_endpoint_shows_why_and_an_operator_enables_it(  # type: ignore[no-untyped-def]
        admin_client, acme, acme_endpoint, receiver, short_schedule, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpoint.objects.get()
    delivery.endpoint_disable(endpoint_id=endpoint.pk, reason="Disabled after the last of 4 attempts failed.")
    page = admin_client.get("/admin/scoring/webhookendpoint/").content.decode()
    assert "Disabled after the last of 4 attempts failed." in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/scoring/webhookendpoint/", {"action": "enable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (True, "")


def test_every_attempt_is_visible_and_a_replay_records_who_asked(  # type: ignore[no-untyped-def]
        admin_client, acme, acme_endpoint, receiver, short_schedule, django_capture_on_commit_callbacks):
    receiver.status = 503
    webhook_record(partner_id=acme.pk, type=WebhookType.EVENT_SCORED, data={"external_id": "a"})
    delivery.webhooks_deliver(partner_id=acme.pk)
    message = WebhookMessage.objects.get()
    page = admin_client.get(f"/admin/scoring/webhookmessage/{message.pk}/change/").content.decode()
    assert message.msg_id in page and "HTTP 503" in page

    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/scoring/webhookmessage/",
                                     {"action": "replay", "_selected_action": [message.pk]}, follow=True)
    assert "1 message(s) will be sent again, in order." in _notices(response)
    assert list(WebhookAttempt.objects.order_by("id").values_list("status_code", "triggered_by")) == [
        (503, ""), (200, "admin:admin")]
    assert [r.msg_id for r in receiver.requests] == [message.msg_id, message.msg_id]
    page = admin_client.get("/admin/scoring/webhookattempt/").content.decode()
    assert "admin:admin" in page
