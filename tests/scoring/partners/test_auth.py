"""Partner-signed requests beyond ingestion: a GET signs its path with the query, a body is signed
byte for byte; refusals are ingestion's 401 codes, and refused addresses are throttled."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from scoring.ingestion.models import PartnerKey
from scoring.ingestion.partners import partner_key_revoke

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/partner/events/"


def test_a_signed_get_authenticates_the_partner(partner_client, world):
    response = partner_client.get(EVENTS + "?status=scored&limit=2")
    assert response.status_code == 200
    assert [e["external_id"] for e in response.json()["results"]] == ["alice-0-card_repayment",
                                                                     "alice-1-card_repayment"]


def test_a_signature_covers_the_query(partner_client, world):
    """A signature made for one query does not authenticate another (nor the bare path)."""
    other_query = partner_client.get(EVENTS + "?status=reversed", signed_path=EVENTS + "?status=scored")
    assert (other_query.status_code, other_query.json()["code"]) == (401, "bad_signature")
    bare = partner_client.get(EVENTS + "?status=reversed", signed_path=EVENTS)
    assert (bare.status_code, bare.json()["code"]) == (401, "bad_signature")
    assert other_query["WWW-Authenticate"] == 'Credo-Signature realm="partner"'


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ({"timestamp_offset": -301}, "stale_timestamp"),
        ({"timestamp_offset": 301}, "stale_timestamp"),
        ({"secret": "not-the-secret"}, "bad_signature"),
        ({"key_id": "ck_unknown"}, "unknown_key"),
    ],
)
def test_refused_signatures(partner_client, world, signing, code):
    response = partner_client.get(EVENTS, **signing)
    assert (response.status_code, response.json()) == (401, {"code": code, "detail": response.json()["detail"]})
    assert "results" not in response.json()


def test_no_signature_and_a_members_token_are_refused(api_as, world, client):
    bare = client.get(EVENTS)
    assert (bare.status_code, bare.json()["code"]) == (401, "signature_missing")
    as_member = api_as(world.alice).get(EVENTS)  # a member is not a partner
    assert (as_member.status_code, as_member.json()["code"]) == (401, "signature_missing")


def test_a_revoked_key_is_refused_to_its_holder(partner_client, acme, world):
    partner_key_revoke(key=PartnerKey.objects.get(partner=acme))
    response = partner_client.get(EVENTS)
    assert (response.status_code, response.json()["code"]) == (401, "key_revoked")


def test_an_address_that_keeps_failing_is_throttled_before_any_work(partner_client, world, settings):
    framework = dict(settings.REST_FRAMEWORK)
    framework["DEFAULT_THROTTLE_RATES"] = {**framework["DEFAULT_THROTTLE_RATES"], "partner_refused": "2/minute"}
    settings.REST_FRAMEWORK = framework
    cache.clear()
    assert partner_client.get(EVENTS, secret="wrong").status_code == 401
    assert partner_client.get(EVENTS, secret="wrong").status_code == 401
    blocked = partner_client.get(EVENTS)  # even a valid signature: the address is refused first
    assert (blocked.status_code, blocked.json()["code"]) == (429, "throttled")


def test_a_body_is_signed_byte_for_byte(partner_client, world):
    """The dispute answer (a POST) signs its raw body: a signature of another body is refused."""
    path = EVENTS + "alice-0-card_repayment/dispute-response/"
    response = partner_client.client.post(
        path, data=b'{"verdict": "withdrawn", "note": "x"}', content_type="application/json",
        **partner_client.signed_headers(b'{"verdict": "confirmed", "note": "x"}'))
    assert (response.status_code, response.json()["code"]) == (401, "bad_signature")
