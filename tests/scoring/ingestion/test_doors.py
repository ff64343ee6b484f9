"""Issue #16's doors on the partners' side: hostile bodies, unsigned floods, revoked keys, and
the operators' key management (``manage.py partner_key``, the admin), every change audited."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from scoring.ingestion.models import Event, IdempotencyRecord, PartnerKey, PartnerKeyAudit
from tests.factories import UserFactory
from tests.scoring.conftest import card_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
BATCH = "/api/v1/events/batch/"
DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.fixture
def refused_rate(settings):  # type: ignore[no-untyped-def]
    def set_rate(rate: str) -> None:
        framework = dict(settings.REST_FRAMEWORK)
        framework["DEFAULT_THROTTLE_RATES"] = {**framework["DEFAULT_THROTTLE_RATES"], "partner_refused": rate}
        settings.REST_FRAMEWORK = framework
        cache.clear()

    return set_rate


@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_nested_json_signed_by_a_partner_is_a_400_and_stores_nothing(partner_client, alice_consents, path):
    response = partner_client.post(path, raw=DEEP)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "too_deep" and body["detail"] == "JSON nested more than 32 levels deep."
    assert Event.objects.count() == 0


def test_a_5_mb_body_is_a_json_413_before_its_signature_is_checked(partner_client, alice_consents):
    response = partner_client.post(EVENTS, raw=b'{"member": "' + b"a" * 5_000_000 + b'"}')
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "detail": "The body is larger than 2621440 bytes."}
    assert IdempotencyRecord.objects.count() == 0


def test_unsigned_and_unknown_key_requests_are_throttled_per_address(partner_client, alice_consents, refused_rate):
    refused_rate("5/minute")
    client = Client()
    codes = [client.post(EVENTS, data=b"{}", content_type="application/json").status_code for _ in range(3)]
    codes += [partner_client.post(EVENTS, card_event(), key_id=f"ck_guess{i}").status_code for i in range(2)]
    assert codes == [401] * 5
    over = partner_client.post(EVENTS, card_event(), key_id="ck_guess9")
    assert over.status_code == 429 and over.json()["code"] == "throttled"
    # Another address is not held up.
    other = partner_client.client.post(EVENTS, data=b"{}", content_type="application/json",
                                       REMOTE_ADDR="198.51.100.4")
    assert other.status_code == 401


def test_a_partners_valid_requests_are_never_counted(partner_client, alice_consents, refused_rate):
    refused_rate("2/minute")
    for i in range(5):
        assert partner_client.post(EVENTS, card_event(external_id=f"ok-{i}")).status_code == 201


def test_a_revoked_key_is_refused_at_once_with_key_revoked(partner_client, acme_key, alice_consents):
    assert partner_client.post(EVENTS, card_event(external_id="a")).status_code == 201
    call_command("partner_key", "revoke", acme_key.key_id, "--reason", "leaked in a log", stdout=StringIO())
    refused = partner_client.post(EVENTS, card_event(external_id="b"))
    assert refused.status_code == 401
    assert refused.json() == {"code": "key_revoked", "detail": "This X-Credo-Key was revoked: sign with a live key."}
    # Without the secret, a revoked key id looks like any unknown one.
    guessed = partner_client.post(EVENTS, card_event(external_id="c"), secret="not-the-secret")
    assert guessed.json()["code"] == "unknown_key"
    assert Event.objects.count() == 1


def _run(*args: str) -> str:
    out = StringIO()
    call_command("partner_key", *args, stdout=out)
    return out.getvalue()


def test_partner_key_create_rotate_revoke_list_are_audited(acme, acme_key):
    created = json.loads(_run("create", "acme", "--json"))
    assert created["slug"] == "acme" and created["key_id"].startswith("ck_") and created["secret"]
    with pytest.raises(CommandError, match="already has 2 live keys"):
        _run("create", "acme")
    rotated = json.loads(_run("rotate", "acme", "--json", "--reason", "yearly"))
    live = set(PartnerKey.objects.filter(partner=acme, revoked_at__isnull=True).values_list("key_id", flat=True))
    assert live == {created["key_id"], rotated["key_id"]}  # the oldest (the first key) was retired
    leaked = json.loads(_run("rotate", "acme", "--revoke-others", "--json", "--reason", "leaked"))
    assert set(PartnerKey.objects.filter(partner=acme, revoked_at__isnull=True).values_list(
        "key_id", flat=True)) == {leaked["key_id"]}
    _run("revoke", leaked["key_id"], "--reason", "partner left")
    with pytest.raises(CommandError, match="already revoked"):
        _run("revoke", leaked["key_id"], "--reason", "again")
    listed = json.loads(_run("list", "acme", "--json"))
    assert [k["key_id"] for k in listed] == [acme_key.key_id, created["key_id"], rotated["key_id"], leaked["key_id"]]
    assert all(k["revoked_at"] for k in listed)
    trail = [(a.action, a.key_id, a.reason) for a in PartnerKeyAudit.objects.order_by("id")]
    assert trail == [
        ("issued", acme_key.key_id, ""),
        ("issued", created["key_id"], ""),
        ("revoked", acme_key.key_id, "yearly"),
        ("issued", rotated["key_id"], "yearly"),
        ("revoked", created["key_id"], "leaked"),
        ("revoked", rotated["key_id"], "leaked"),
        ("issued", leaked["key_id"], "leaked"),
        ("revoked", leaked["key_id"], "partner left"),
    ]
    assert {a.actor_name.split(":")[0] for a in PartnerKeyAudit.objects.exclude(key_id=acme_key.key_id)} == {
        "manage.py"}
    text = _run("list").splitlines()
    assert len(text) == 4 and all(line.startswith("acme") and " revoked " in line for line in text)


def test_operators_issue_and_revoke_keys_in_the_admin(acme, acme_key, partner_client, alice_consents):
    operator = UserFactory(username="ops", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(operator)
    issued = client.post("/admin/scoring/partner/", {"action": "issue_key", "_selected_action": [acme.pk]},
                         follow=True)
    shown = [str(m) for m in issued.context["messages"]]
    assert len(shown) == 1 and "shown once" in shown[0]
    new_key = PartnerKey.objects.filter(partner=acme).order_by("-created_at", "-id").first()
    assert new_key is not None and new_key.key_id in shown[0]
    old = PartnerKey.objects.get(key_id=acme_key.key_id)
    client.post("/admin/scoring/partnerkey/", {"action": "revoke_keys", "_selected_action": [old.pk]})
    refused = partner_client.post(EVENTS, card_event())
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    trail = list(PartnerKeyAudit.objects.filter(actor_name="admin:ops").order_by("id").values_list("action", "key_id"))
    assert trail == [("issued", new_key.key_id), ("revoked", acme_key.key_id)]
    # The partner's page shows its keys and the audit.
    page = client.get(f"/admin/scoring/partner/{acme.pk}/change/").content.decode()
    assert "key audit" in page.lower() and "admin:ops" in page


def test_moderators_cannot_touch_partner_keys(acme, acme_key):
    from django.contrib.auth.models import Group

    mod = UserFactory(username="mod")
    mod.groups.add(Group.objects.get(name="Moderators"))
    client = Client()
    client.force_login(mod)
    client.post("/admin/scoring/partnerkey/", {"action": "revoke_keys",
                                                "_selected_action": [PartnerKey.objects.get().pk]})
    assert PartnerKey.objects.get().revoked_at is None
