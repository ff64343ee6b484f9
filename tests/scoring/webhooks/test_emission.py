"""Every cause writes exactly one outbox row in its own transaction, and none when it rolls back.

The endpoint here is configured but nothing is delivered: the after-commit callbacks are
captured, not run (delivery has its own tests).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.privacy.services import member_delete
from scoring.ingestion.consent import consent_grant, consent_revoke
from scoring.ingestion.models import Event, Partner
from scoring.ledger import services
from scoring.ledger.bulk import members_score_pending_bulk
from scoring.ledger.services import MAX_SCORING_ATTEMPTS, events_record_failure
from scoring.moderation.furnisher import event_partner_view
from scoring.moderation.services import action_undo, dispute_open, dispute_reject, event_correct, event_reverse
from scoring.partners.selectors import partner_events_page
from scoring.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookType
from scoring.webhooks.payloads import iso
from scoring.webhooks.services import webhook_endpoint_set
from tests.factories import PASSWORD
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    pass


@pytest.fixture
def listening(acme, settings):  # type: ignore[no-untyped-def]
    """Acme listens for every type at a public address (never called here)."""
    webhook_endpoint_set(partner=acme, url="https://93.184.215.14/hooks", types=WebhookType.values, actor_name="t")
    return acme


@pytest.fixture
def globex(db) -> Partner:  # type: ignore[no-untyped-def]
    """A partner without an endpoint."""
    return Partner.objects.create(name="Globex", slug="globex")


def _messages() -> list[tuple[int, str, dict]]:
    return list(WebhookMessage.objects.order_by("id").values_list("partner_id", "type", "data"))


def _data(event: Event, status: str) -> dict:
    event = Event.objects.select_related("member").get(pk=event.pk)
    return {"external_id": event.external_id, "member": event.member.username, "kind": event.kind,
            "status": status, "received_at": iso(event.received_at), "scored_at": iso(event.scored_at),
            "dispute": None}


def test_scoring_one_member_records_event_scored_for_each_event_of_a_listening_partner(
        alice, listening, globex, django_capture_on_commit_callbacks):
    mine = make_event(alice, listening, 1)
    theirs = make_event(alice, globex, 2)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.member_score_pending(member_id=alice.pk) == 2
    assert _messages() == [(listening.pk, "event.scored", _data(mine, "scored"))]
    assert Event.objects.get(pk=theirs.pk).status == "scored"
    assert [c.__qualname__ for c in callbacks].count("enqueue_on_commit.<locals>.send") == 1


def test_the_batch_scorer_records_one_row_per_listening_event_in_one_insert(alice, bob, listening, globex):
    events = [make_event(alice, listening, 1), make_event(bob, listening, 2), make_event(bob, globex, 3),
              make_event(alice, listening, 4)]
    with CaptureQueriesContext(connection) as queries:
        assert members_score_pending_bulk(member_ids=[alice.pk, bob.pk]) == 4
    webhook_sql = [q["sql"].split()[0] for q in queries.captured_queries if "webhook" in q["sql"]]
    assert webhook_sql == ["SELECT", "INSERT"]
    # Per partner, in the order scored: alice's events (by date), then bob's.
    assert _messages() == [(listening.pk, "event.scored", _data(e, "scored"))
                           for e in (events[0], events[3], events[1])]


def test_a_batch_without_listeners_costs_one_read_and_writes_nothing(alice, globex):
    make_event(alice, globex, 1)
    services.member_state_ensure(member=alice)
    with CaptureQueriesContext(connection) as queries:
        assert members_score_pending_bulk(member_ids=[alice.pk]) == 1
    webhook_sql = [q["sql"] for q in queries.captured_queries if "webhook" in q["sql"]]
    assert len(webhook_sql) == 1 and webhook_sql[0].startswith("SELECT")
    assert _messages() == []


@pytest.mark.parametrize("path", ["one", "batch"])
def test_no_event_scored_row_survives_a_rollback(alice, listening, path):
    make_event(alice, listening, 1)
    with pytest.raises(RolledBack), transaction.atomic():
        if path == "one":
            services.member_score_pending(member_id=alice.pk)
        else:
            members_score_pending_bulk(member_ids=[alice.pk])
        assert len(_messages()) == 1  # written inside the transaction...
        raise RolledBack
    assert _messages() == []  # ...and gone with it
    assert Event.objects.get().status == "pending"


def test_an_event_that_fails_for_good_records_event_failed_once(alice, listening):
    event = make_event(alice, listening, 1)
    for _ in range(MAX_SCORING_ATTEMPTS - 1):
        events_record_failure(member_id=alice.pk, error="boom")
    assert _messages() == []
    events_record_failure(member_id=alice.pk, error="boom")
    assert _messages() == [(listening.pk, "event.failed", _data(event, "failed"))]
    with pytest.raises(RolledBack), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(status="pending", attempts=MAX_SCORING_ATTEMPTS - 1)
        events_record_failure(member_id=alice.pk, error="boom")
        raise RolledBack
    assert len(_messages()) == 1


def test_a_reversal_records_event_reversed(alice, listening):
    event = make_event(alice, listening, 1)
    services.member_score_pending(member_id=alice.pk)
    WebhookMessage.objects.all().delete()
    with pytest.raises(RolledBack), transaction.atomic():
        event_reverse(event_id=event.pk, by=None, reason="fraud")
        raise RolledBack
    assert _messages() == []
    event_reverse(event_id=event.pk, by=None, reason="fraud")
    assert _messages() == [(listening.pk, "event.reversed", _data(event, "reversed"))]


def test_a_correction_records_event_corrected(alice, listening):
    event = make_event(alice, listening, 1)
    services.member_score_pending(member_id=alice.pk)
    WebhookMessage.objects.all().delete()
    with pytest.raises(RolledBack), transaction.atomic():
        event_correct(event_id=event.pk, by=None, reason="typo", changes={"amount": Decimal("90.00")})
        raise RolledBack
    assert _messages() == []
    event_correct(event_id=event.pk, by=None, reason="typo", changes={"amount": Decimal("90.00")})
    assert _messages() == [(listening.pk, "event.corrected", _data(event, "corrected"))]


def test_a_revoked_consent_records_consent_revoked(alice, listening):
    consent_grant(member=alice, partner=listening)
    with pytest.raises(RolledBack), transaction.atomic():
        assert consent_revoke(member=alice, partner=listening) is True
        raise RolledBack
    assert _messages() == []
    assert consent_revoke(member=alice, partner=listening) is True
    revoked_at = alice.partner_consents.get().revoked_at
    assert _messages() == [(listening.pk, "consent.revoked", {"member": "alice", "revoked_at": iso(revoked_at)})]
    assert consent_revoke(member=alice, partner=listening) is False  # not connected any more: nothing
    assert len(_messages()) == 1


def test_nothing_is_recorded_for_a_type_not_subscribed_but_a_disabled_endpoint_keeps_its_messages(alice, acme):
    webhook_endpoint_set(partner=acme, url="https://93.184.215.14/hooks", types=[WebhookType.EVENT_FAILED],
                         actor_name="t")
    make_event(alice, acme, 1)
    services.member_score_pending(member_id=alice.pk)
    assert _messages() == []
    WebhookEndpoint.objects.update(types=WebhookType.values, is_enabled=False)
    event = make_event(alice, acme, 2)
    services.member_score_pending(member_id=alice.pk)
    event.refresh_from_db()
    assert _messages() == [(acme.pk, "event.scored", _data(event, "scored"))]  # waits for the endpoint


def test_deleting_an_account_tells_each_connected_partner(alice, listening, globex):
    consent_grant(member=alice, partner=listening)
    consent_grant(member=alice, partner=globex)  # connected, but its endpoint does not listen
    member_delete(member=alice, password=PASSWORD)
    revoked_at = alice.partner_consents.get(partner=listening).revoked_at
    assert _messages() == [(listening.pk, "consent.revoked", {"member": "alice", "revoked_at": iso(revoked_at)})]
    assert list(alice.partner_consents.filter(revoked_at__isnull=True)) == []


def test_a_reinstated_event_records_event_scored_again(alice, listening):
    event = make_event(alice, listening, 1)
    services.member_score_pending(member_id=alice.pk)
    entry = event_reverse(event_id=event.pk, by=None, reason="fraud")
    WebhookMessage.objects.all().delete()
    action_undo(entry_id=entry.pk, by=None, reason="it was not fraud")
    event.refresh_from_db()
    assert _messages() == [(listening.pk, "event.scored", _data(event, "scored"))]


def test_a_reopened_dispute_records_event_disputed_again(alice, listening):
    event = make_event(alice, listening, 1)
    services.member_score_pending(member_id=alice.pk)
    dispute = dispute_open(member=alice, event_id=event.pk, reason="not mine")
    entry = dispute_reject(dispute_id=dispute.pk, by=None, reason="the receipt matches")
    WebhookMessage.objects.all().delete()
    action_undo(entry_id=entry.pk, by=None, reason="look again")
    [(partner_id, type_, data)] = _messages()
    assert (partner_id, type_, data["status"], data["dispute"]["status"]) == (
        listening.pk, "event.disputed", "disputed", "open")


def test_the_partner_sees_the_open_dispute_even_when_a_newer_one_was_closed(alice, listening):
    event = make_event(alice, listening, 1)
    services.member_score_pending(member_id=alice.pk)
    first = dispute_open(member=alice, event_id=event.pk, reason="not mine")
    rejected = dispute_reject(dispute_id=first.pk, by=None, reason="the receipt matches")
    second = dispute_open(member=alice, event_id=event.pk, reason="really not mine")
    dispute_reject(dispute_id=second.pk, by=None, reason="still matches")
    action_undo(entry_id=rejected.pk, by=None, reason="look again")  # the older dispute is open again
    view = event_partner_view(Event.objects.select_related("member").get(pk=event.pk))
    assert (view["status"], view["dispute"]["status"], view["dispute"]["opened_at"]) == (
        "disputed", "open", iso(first.created_at))
    assert [e.external_id for e in partner_events_page(partner=listening, status="disputed").items] == [
        event.external_id]
