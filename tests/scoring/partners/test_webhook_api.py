"""The partner's webhook API: configure, rotate, read its own deliveries (signed requests)."""

from __future__ import annotations

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from scoring.ingestion.models import Partner
from scoring.webhooks import delivery
from scoring.webhooks.models import WebhookEndpoint, WebhookType
from scoring.webhooks.outbox import webhook_record
from scoring.webhooks.receiver import Receiver
from tests.scoring.webhooks.conftest import allow_local, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
WEBHOOK = "/api/v1/partner/webhook/"
ROTATE = "/api/v1/partner/webhook/rotate/"
DELIVERIES = "/api/v1/partner/webhooks/deliveries/"
PUBLIC = "https://93.184.215.14/hooks"


def _rotate(signed):  # type: ignore[no-untyped-def]
    return signed.client.post(ROTATE, data=b"", content_type="application/json", **signed.signed_headers(b""))


def test_configuring_shows_the_secret_once(partner_client):  # type: ignore[no-untyped-def]
    first = partner_client.send("put", WEBHOOK, {"url": PUBLIC, "events": ["event.scored", "consent.revoked"]})
    assert first.status_code == 200
    body = first.json()
    assert (body["url"], body["events"]) == (PUBLIC, ["event.scored", "consent.revoked"])
    assert body["secret"].startswith("whsec_")
    again = partner_client.send("put", WEBHOOK, {"url": PUBLIC + "/v2", "events": ["event.failed"]})
    assert (again.status_code, again.json()) == (200, {"url": PUBLIC + "/v2", "events": ["event.failed"],
                                                       "secret": None})


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "https://127.0.0.1/hooks", "events": ["event.scored"]}, "webhook_url_address"),
    ({"url": "https://10.0.0.8/hooks", "events": ["event.scored"]}, "webhook_url_address"),
    ({"url": "https://localhost/hooks", "events": ["event.scored"]}, "webhook_url_address"),
    ({"url": "http://93.184.215.14/hooks", "events": ["event.scored"]}, "webhook_url_scheme"),
    ({"url": PUBLIC, "events": ["event.deleted"]}, "invalid_choice"),
    ({"url": PUBLIC, "events": []}, "min_length"),
    ({"url": PUBLIC, "events": ["event.scored"], "secret": "mine"}, "unknown_field"),
    ({"url": "not a url", "events": ["event.scored"]}, "invalid"),
])
def test_bad_configurations_are_refused_with_a_code(partner_client, body, code):  # type: ignore[no-untyped-def]
    response = partner_client.send("put", WEBHOOK, body)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert WebhookEndpoint.objects.count() == 0


def test_unsigned_or_member_requests_are_refused(partner_client, alice):  # type: ignore[no-untyped-def]
    anonymous = APIClient().put(WEBHOOK, data={"url": PUBLIC, "events": ["event.scored"]}, format="json")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "signature_missing")
    _, token = AuthToken.objects.create(alice)  # a member's token is not a partner's signature
    member = APIClient().get(DELIVERIES, HTTP_AUTHORIZATION=f"Token {token}")
    assert (member.status_code, member.json()["code"]) == (401, "signature_missing")
    forged = partner_client.send("put", WEBHOOK, {"url": PUBLIC, "events": ["event.scored"]}, secret="not-the-secret")
    assert (forged.status_code, forged.json()["code"]) == (401, "bad_signature")


def test_rotation_needs_an_endpoint_and_gives_a_new_secret(partner_client):  # type: ignore[no-untyped-def]
    missing = _rotate(partner_client)
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_configured")
    first = partner_client.send("put", WEBHOOK, {"url": PUBLIC, "events": ["event.scored"]}).json()["secret"]
    rotated = _rotate(partner_client)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != first
    assert (rotated.json()["url"], rotated.json()["events"]) == (PUBLIC, ["event.scored"])


def test_a_partner_reads_only_its_own_deliveries_page_by_page(  # type: ignore[no-untyped-def]
        partner_client, bolt_client, acme, receiver, allow_local):  # noqa: F811  (the fixtures imported above)
    bolt = Partner.objects.get(slug="bolt")
    other = Receiver().start()
    try:
        receiver.secrets = [partner_client.send("put", WEBHOOK, {"url": receiver.url, "events": ["event.scored"]})
                            .json()["secret"]]
        other.secrets = [bolt_client.send("put", WEBHOOK, {"url": other.url, "events": ["event.scored"]})
                         .json()["secret"]]
        for partner, name in [(acme, "a1"), (bolt, "b1"), (acme, "a2"), (acme, "a3")]:
            webhook_record(partner_id=partner.pk, type=WebhookType.EVENT_SCORED, data={"external_id": name})
            delivery.webhooks_deliver(partner_id=partner.pk)
    finally:
        other.stop()
    mine = [r.msg_id for r in receiver.requests]
    assert len(mine) == 3 and len(other.requests) == 1

    first = partner_client.get(DELIVERIES + "?limit=2")
    assert first.status_code == 200
    page = first.json()
    assert [d["webhook_id"] for d in page["results"]] == [mine[2], mine[1]]
    assert page["results"][0] == {**page["results"][0], "type": "event.scored", "url": receiver.url,
                                  "status_code": 200, "ok": True, "error": "", "message_status": "delivered"}
    second = partner_client.get(DELIVERIES + f"?limit=2&cursor={page['next']}").json()
    assert ([d["webhook_id"] for d in second["results"]], second["next"]) == ([mine[0]], None)
    theirs = bolt_client.get(DELIVERIES).json()
    assert [d["webhook_id"] for d in theirs["results"]] == [other.requests[0].msg_id]


def test_a_bad_cursor_is_refused(partner_client):  # type: ignore[no-untyped-def]
    response = partner_client.get(DELIVERIES + "?cursor=abc")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_a_get_signature_cannot_be_replayed_as_a_rotation(partner_client):  # type: ignore[no-untyped-def]
    """The signature covers the body, not the method: a signed GET's headers with its path as a
    body would verify here. A rotation takes no body, so none of that ever reaches the secrets."""
    first = partner_client.send("put", WEBHOOK, {"url": PUBLIC, "events": ["event.scored"]}).json()["secret"]
    path = "/api/v1/partner/events/"
    stolen = partner_client.signed_headers(path.encode())  # what a signed GET of that path carries
    assert partner_client.client.get(path, **stolen).status_code == 200
    replayed = partner_client.client.post(ROTATE, data=path.encode(), content_type="application/json", **stolen)
    assert (replayed.status_code, replayed.json()["code"]) == (400, "body_not_empty")
    assert WebhookEndpoint.objects.get().secrets.count() == 1
    assert first.startswith("whsec_")
