"""Partner ingestion: signatures, idempotency, consent, validation, exactly-once storage."""

from __future__ import annotations

import time

import pytest

from scoring.ingestion.models import Event, IdempotencyRecord, PartnerKey
from scoring.ingestion.partners import partner_key_issue
from scoring.ledger.models import ScoreChange
from tests.scoring.conftest import card_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
BATCH = "/api/v1/events/batch/"


def test_a_signed_event_is_stored_pending_then_scored_once(
    partner_client, alice_consents, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.post(EVENTS, card_event())
    assert response.status_code == 201
    body = response.json()
    assert body["member"] == "alice" and body["kind"] == "card_repayment" and body["duplicate"] is False
    event = Event.objects.get()
    assert event.status == Event.Status.SCORED
    assert ScoreChange.objects.filter(event=event).count() == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "sha256=" + "0" * 64}, "bad_signature"),
        ({"secret": "not-the-secret"}, "bad_signature"),
        ({"timestamp_offset": -301}, "stale_timestamp"),
        ({"timestamp_offset": 301}, "stale_timestamp"),
        ({"key_id": "ck_unknown"}, "unknown_key"),
    ],
)
def test_bad_signatures_are_401_and_write_nothing(partner_client, alice_consents, change, code):
    records = IdempotencyRecord.objects.count()
    response = partner_client.post(EVENTS, card_event(), **change)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert Event.objects.count() == 0
    assert IdempotencyRecord.objects.count() == records


def test_missing_signature_headers(client, alice_consents):
    response = client.post(EVENTS, data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "signature_missing"


def test_the_body_is_signed_byte_for_byte(partner_client, alice_consents):
    body = b'{"member": "alice"}'
    from scoring.ingestion.partners import sign

    ts = int(time.time())
    signature = sign(partner_client.key.secret, ts, body)
    response = partner_client.post(EVENTS, raw=body + b" ", timestamp=ts, signature=signature)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


def test_rotation_two_live_secrets_then_the_oldest_is_revoked(partner_client, acme, alice_consents):
    old = partner_client.key
    new = partner_key_issue(partner=acme)
    assert partner_client.post(EVENTS, card_event(external_id="a"), secret=old.secret).status_code == 201
    assert partner_client.post(EVENTS, card_event(external_id="b"), key_id=new.key_id,
                               secret=new.secret).status_code == 201
    newest = partner_key_issue(partner=acme)  # a third key: the oldest stops working
    assert PartnerKey.objects.filter(partner=acme, revoked_at__isnull=True).count() == 2
    refused = partner_client.post(EVENTS, card_event(external_id="c"))
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    assert partner_client.post(EVENTS, card_event(external_id="d"), key_id=newest.key_id,
                               secret=newest.secret).status_code == 201


def test_secrets_are_not_stored_in_clear(acme_key):
    key = PartnerKey.objects.get(key_id=acme_key.key_id)
    assert acme_key.secret.encode() not in bytes(key.secret_encrypted)


def test_idempotency_key_required(partner_client, alice_consents):
    response = partner_client.post(EVENTS, card_event(), idempotency_key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert Event.objects.count() == 0


def test_same_key_same_body_replays_the_original_response(partner_client, alice_consents):
    first = partner_client.post(EVENTS, card_event(), idempotency_key="k-1")
    second = partner_client.post(EVENTS, card_event(), idempotency_key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


def test_same_key_other_body_is_422(partner_client, alice_consents):
    partner_client.post(EVENTS, card_event(), idempotency_key="k-1")
    response = partner_client.post(EVENTS, card_event(amount="99.00"), idempotency_key="k-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Event.objects.count() == 1


def test_key_in_flight_is_409_and_a_dead_lease_is_taken_over(partner_client, acme, alice_consents):
    import json as _json
    from datetime import timedelta

    from django.utils import timezone

    from scoring.ingestion.services import request_hash
    body = _json.dumps(card_event()).encode()
    record = IdempotencyRecord.objects.create(
        partner=acme, key="k-busy", request_hash=request_hash(body),
        locked_until=timezone.now() + timedelta(seconds=30),
    )
    busy = partner_client.post(EVENTS, raw=body, idempotency_key="k-busy")
    assert busy.status_code == 409 and busy.json()["code"] == "request_in_flight"
    assert Event.objects.count() == 0
    IdempotencyRecord.objects.filter(pk=record.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    taken_over = partner_client.post(EVENTS, raw=body, idempotency_key="k-busy")
    assert taken_over.status_code == 201
    assert Event.objects.count() == 1


def test_validation_errors_are_replayed_too(partner_client, alice_consents):
    first = partner_client.post(EVENTS, card_event(amount="-1.00"), idempotency_key="k-bad")
    second = partner_client.post(EVENTS, card_event(amount="-1.00"), idempotency_key="k-bad")
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


def test_same_external_id_under_another_key_is_a_duplicate_not_a_second_event(partner_client, alice_consents):
    first = partner_client.post(EVENTS, card_event())
    again = partner_client.post(EVENTS, card_event())
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    assert Event.objects.count() == 1


def test_no_consent_is_403(partner_client, alice, bob, alice_consents):
    response = partner_client.post(EVENTS, card_event(member="bob"))
    assert response.status_code == 403
    assert response.json() == {"code": "no_consent", "detail": "Member 'bob' has not connected Acme Bank."}
    assert Event.objects.count() == 0


def test_revoked_consent_is_403(partner_client, alice, acme, alice_consents):
    from scoring.ingestion.consent import consent_revoke

    consent_revoke(member=alice, partner=acme)
    response = partner_client.post(EVENTS, card_event())
    assert response.status_code == 403 and response.json()["code"] == "no_consent"


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"member": "nobody"}, 400, "unknown_member", "member"),
        ({"kind": "lottery"}, 400, "unknown_kind", "kind"),
        ({"amount": "-5.00"}, 400, "invalid_amount", "amount"),
        ({"kind": "purchase", "due_date": None, "paid_date": None, "amount": "0"}, 400, "invalid_amount", "amount"),
        ({"amount": "1.234"}, 400, "invalid_amount", "amount"),
        ({"amount": "lots"}, 400, "invalid_amount", "amount"),
        ({"currency": "euro"}, 400, "invalid", "currency"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, 400, "in_future", "occurred_at"),
        ({"occurred_at": "1999-12-31T00:00:00Z"}, 400, "out_of_range", "occurred_at"),
        ({"occurred_at": "yesterday"}, 400, "invalid", "occurred_at"),
        ({"due_date": None}, 400, "required", "due_date"),
        ({"due_date": "1990-01-01"}, 400, "out_of_range", "due_date"),
        ({"paid_date": "2999-01-01"}, 400, "in_future", "paid_date"),
        ({"paid_date": None}, 400, "payment_outcome", "paid_date"),
        ({"missed": True}, 400, "payment_outcome", "paid_date"),
        ({"external_id": None}, 400, "required", "external_id"),
        ({"colour": "red"}, 400, "unknown_field", "colour"),
        ({"kind": "purchase"}, 400, "not_for_kind", "due_date"),
    ],
)
def test_every_validation_error_names_its_field_with_a_stable_code(
    partner_client, alice_consents, overrides, status, code, field
):
    response = partner_client.post(EVENTS, card_event(**overrides))
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code
    assert body["detail"].startswith(f"{field}: ")
    assert Event.objects.count() == 0


def test_malformed_json_is_400(partner_client, alice_consents):
    response = partner_client.post(EVENTS, raw=b"{nope")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_missed_bill_and_a_purchase_are_accepted(partner_client, alice_consents):
    bill = card_event(kind="bill_payment", paid_date=None, missed=True, external_id="bill-1")
    purchase = {"member": "alice", "kind": "purchase", "amount": "35.50", "currency": "EUR",
                "occurred_at": "2026-11-02T09:00:00Z", "external_id": "p-1", "merchant_category": "grocery"}
    assert partner_client.post(EVENTS, bill).status_code == 201
    assert partner_client.post(EVENTS, purchase).status_code == 201
    assert sorted(Event.objects.values_list("kind", "missed")) == [("bill_payment", True), ("purchase", False)]


def test_batch_accepts_many_and_reports_duplicates(partner_client, alice, bob, acme, alice_consents,
                                                    django_capture_on_commit_callbacks):
    from scoring.ingestion.consent import consent_grant

    consent_grant(member=bob, partner=acme)
    events = [card_event(external_id=f"e{i}", member="alice" if i % 2 else "bob") for i in range(10)]
    events.append(card_event(external_id="e3"))  # the same event twice in one batch
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.post(BATCH, {"events": events})
    assert response.status_code == 201
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (10, 1)
    assert Event.objects.count() == 10
    assert Event.objects.filter(status=Event.Status.SCORED).count() == 10
    assert ScoreChange.objects.filter(cause="event").count() == 10


def test_batch_is_all_or_nothing_and_names_the_bad_item(partner_client, alice_consents):
    events = [card_event(external_id="ok"), card_event(external_id="bad", amount="-3.00")]
    response = partner_client.post(BATCH, {"events": events})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_amount"
    assert response.json()["detail"].startswith("events[1].amount: ")
    assert Event.objects.count() == 0


def test_batch_over_500_is_refused(partner_client, alice_consents):
    events = [card_event(external_id=f"e{i}") for i in range(501)]
    response = partner_client.post(BATCH, {"events": events})
    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large"
    assert Event.objects.count() == 0


def test_a_single_event_takes_seven_statements(partner_client, alice_consents, django_assert_max_num_queries):
    # key + partner, claim the Idempotency-Key, (savepoint: the test's transaction), member +
    # consent, event, response, (release): no ORM look-ups on the hot path (docs/benchmarks.md).
    partner_client.post(EVENTS, card_event(external_id="warm-up"))
    with django_assert_max_num_queries(7):
        response = partner_client.post(EVENTS, card_event())
    assert response.status_code == 201


def test_a_refusal_is_recorded_and_replayed_under_its_key(partner_client, alice, bob, alice_consents):
    # The consent check raises before the write block opens, so the refusal is still recorded.
    first = partner_client.post(EVENTS, card_event(member="bob"), idempotency_key="k-bob")
    again = partner_client.post(EVENTS, card_event(member="bob"), idempotency_key="k-bob")
    assert first.status_code == again.status_code == 403
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert IdempotencyRecord.objects.get(key="k-bob").state == IdempotencyRecord.State.DONE
    assert Event.objects.count() == 0


def test_a_batch_reports_events_stored_by_an_earlier_request_as_duplicates(partner_client, alice_consents):
    first = partner_client.post(EVENTS, card_event(external_id="e1")).json()
    response = partner_client.post(BATCH, {"events": [card_event(external_id="e0"), card_event(external_id="e1")]})
    assert response.status_code == 201
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert [(e["external_id"], e["duplicate"]) for e in body["events"]] == [("e0", False), ("e1", True)]
    assert body["events"][1]["id"] == first["id"]
    assert Event.objects.count() == 2


def test_a_cached_secret_never_outlives_its_key(partner_client, acme_key, alice_consents):
    """Decrypted secrets are cached by ciphertext; whether the key may sign is read every time."""
    from scoring.ingestion.partners import _decrypt_token, partner_key_revoke

    assert partner_client.post(EVENTS, card_event(external_id="a")).status_code == 201
    hits = _decrypt_token.cache_info().hits
    assert partner_client.post(EVENTS, card_event(external_id="b")).status_code == 201
    assert _decrypt_token.cache_info().hits == hits + 1  # the second request did not decrypt
    partner_key_revoke(key=PartnerKey.objects.get(key_id=acme_key.key_id))
    refused = partner_client.post(EVENTS, card_event(external_id="c"))
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"
    assert Event.objects.count() == 2


def test_a_re_encrypted_secret_takes_effect_at_once(partner_client, acme_key, alice_consents):
    from scoring.ingestion.partners import _fernet

    assert partner_client.post(EVENTS, card_event(external_id="a")).status_code == 201
    PartnerKey.objects.filter(key_id=acme_key.key_id).update(secret_encrypted=_fernet().encrypt(b"the-new-secret"))
    old = partner_client.post(EVENTS, card_event(external_id="b"))
    assert old.status_code == 401 and old.json()["code"] == "bad_signature"
    assert partner_client.post(EVENTS, card_event(external_id="c"), secret="the-new-secret").status_code == 201


def test_an_inactive_partner_cannot_sign(partner_client, acme, alice_consents):
    acme.is_active = False
    acme.save(update_fields=["is_active"])
    response = partner_client.post(EVENTS, card_event())
    assert response.status_code == 401 and response.json()["code"] == "unknown_key"
    assert Event.objects.count() == 0
