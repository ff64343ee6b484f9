"""The member's partners page: connect, disconnect, and connect again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Partner, PartnerConsent

pytestmark = pytest.mark.django_db


def _available(client) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.slug for p in client.get(reverse("partners")).context["available"]]


def test_a_disconnected_partner_is_available_again_and_reconnects(client, alice, acme, alice_consents):
    client.force_login(alice)
    assert _available(client) == []
    response = client.post(reverse("partner-disconnect", args=["acme"]))
    assert response.status_code == 302
    assert _available(client) == ["acme"]
    page = client.get(reverse("partners")).content.decode()
    assert f'action="{reverse("partner-connect", args=["acme"])}"' in page
    client.post(reverse("partner-connect", args=["acme"]))
    assert _available(client) == []
    assert PartnerConsent.objects.filter(member=alice, partner=acme).count() == 2
    assert PartnerConsent.objects.filter(member=alice, partner=acme, revoked_at__isnull=True).count() == 1


def test_another_members_live_consent_does_not_hide_the_partner(client, alice, bob, acme, alice_consents):
    consent_grant(member=bob, partner=acme)
    client.force_login(alice)
    client.post(reverse("partner-disconnect", args=["acme"]))
    assert _available(client) == ["acme"]


def test_the_api_lists_a_disconnected_partner_as_available(api_as, alice, acme, alice_consents):
    api = api_as(alice)
    assert api.delete("/api/v1/me/partners/acme/").status_code == 204
    body = api.get("/api/v1/me/partners/").json()
    assert body["connected"] == []
    assert body["available"] == [{"partner": "acme", "name": "Acme Bank", "connected_at": None}]


def test_an_inactive_partner_is_not_offered(client, alice, acme, alice_consents):
    client.force_login(alice)
    client.post(reverse("partner-disconnect", args=["acme"]))
    Partner.objects.filter(slug="acme").update(is_active=False)
    assert _available(client) == []
    assert client.post(reverse("partner-connect", args=["acme"])).status_code == 404


def test_disconnecting_asks_first(client, alice, acme, alice_consents):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    page = client.get(reverse("partners")).content.decode()
    assert '<summary class="button ghost small">Disconnect…</summary>' in page
    assert "Yes, disconnect Acme Bank" in page
    # Only the confirming form posts; a GET of the action changes nothing.
    assert client.get(reverse("partner-disconnect", args=["acme"])).status_code == 405
    assert _available(client) == []
