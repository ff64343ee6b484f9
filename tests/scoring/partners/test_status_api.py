"""The partner reads the status of its own events: exact representations, statuses as they
move, paging, bad queries, and nobody else's events or any score."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring.ingestion.models import Event
from scoring.moderation import services as moderation
from scoring.partners import selectors
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/partner/events/"


def iso(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.isoformat().replace("+00:00", "Z")


def test_one_event_exactly(partner_client, world):
    event = Event.objects.get(pk=world.missed[0].pk)
    response = partner_client.get(f"{EVENTS}{event.external_id}/")
    assert response.status_code == 200
    assert response.json() == {
        "external_id": "alice-0-card_repayment", "member": "alice", "kind": "card_repayment", "status": "scored",
        "received_at": iso(event.received_at), "scored_at": iso(event.scored_at), "dispute": None,
    }


def test_no_score_anywhere(partner_client, world):
    """Nothing of the member's beyond what the partner sent: no score, band, points or factor."""
    body = partner_client.get(EVENTS).json()
    text = str(body)
    assert world.alice.score is not None
    for word in ("score'", "band", "points", "factor", "social", "base", "amount"):
        assert word not in text
    assert set(body["results"][0]) == {"external_id", "member", "kind", "status", "received_at", "scored_at",
                                       "dispute"}


def test_another_partners_event_is_not_found_like_an_unknown_one(bolt_client, partner_client, world):
    theirs = bolt_client.get(f"{EVENTS}{world.missed[0].external_id}/")
    unknown = partner_client.get(f"{EVENTS}no-such-event/")
    assert (theirs.status_code, theirs.json()) == (404, {"code": "not_found", "detail": "Not found."})
    assert unknown.json() == theirs.json()
    assert bolt_client.get(EVENTS).json() == {"results": [], "next": None}


def test_statuses_as_they_move(partner_client, world, run, acme):
    pending = make_event(world.alice, acme, 40)
    failed = make_event(world.alice, acme, 41, status=Event.Status.FAILED)
    missed, on_time = world.missed, world.on_time
    run(moderation.dispute_open, member=world.alice, event_id=missed[0].pk, reason="I paid")
    run(moderation.event_reverse, event_id=missed[1].pk, by=None, reason="sent by mistake")
    run(moderation.event_correct, event_id=missed[2].pk, by=None, reason="paid on the day",
        changes={"missed": False, "paid_date": missed[2].due_date.isoformat()})
    statuses = {e["external_id"]: e["status"] for e in partner_client.get(EVENTS + "?limit=20").json()["results"]}
    assert statuses == {
        "alice-0-card_repayment": "disputed", "alice-1-card_repayment": "reversed",
        "alice-2-card_repayment": "corrected", "alice-3-card_repayment": "scored",
        "alice-4-card_repayment": "scored", "alice-5-card_repayment": "scored",
        pending.external_id: "pending", failed.external_id: "failed",
    }
    for status in selectors.PartnerStatus.ALL:  # the filter agrees with each event's own status
        listed = partner_client.get(f"{EVENTS}?status={status}&limit=20").json()["results"]
        assert sorted(e["external_id"] for e in listed) == sorted(k for k, v in statuses.items() if v == status)
    assert on_time  # the world's on-time events stay scored


def test_a_disputed_events_dispute(partner_client, world, run, settings):
    settings.DISPUTE_FURNISHER_DAYS = 30
    dispute = run(moderation.dispute_open, member=world.alice, event_id=world.missed[0].pk, reason="I paid")
    body = partner_client.get(f"{EVENTS}{world.missed[0].external_id}/").json()
    assert body["status"] == "disputed"
    assert body["dispute"] == {"opened_at": iso(dispute.created_at), "status": "open",
                               "respond_by": iso(dispute.created_at + timedelta(days=30)),
                               "verdict": None, "answered_at": None, "resolved_at": None}
    assert "I paid" not in str(body)  # the member's words are for the moderators


def test_pages_are_stable_and_oldest_first(partner_client, world):
    first = partner_client.get(EVENTS + "?limit=4").json()
    assert [e["external_id"] for e in first["results"]] == [f"alice-{n}-card_repayment" for n in range(4)]
    second = partner_client.get(f"{EVENTS}?limit=4&cursor={first['next']}").json()
    assert [e["external_id"] for e in second["results"]] == [f"alice-{n}-card_repayment" for n in (4, 5)]
    assert second["next"] is None


def test_since(partner_client, world):
    later = timezone.now() + timedelta(seconds=1)
    Event.objects.filter(pk=world.on_time[2].pk).update(received_at=later)
    since = iso(later).replace("+", "%2B")
    listed = partner_client.get(f"{EVENTS}?since={since}").json()["results"]
    assert [e["external_id"] for e in listed] == ["alice-5-card_repayment"]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("status=lost", "invalid_choice", "status"),
        ("since=yesterday", "invalid", "since"),
        ("since=2026-12-01T00:00:00", "naive", "since"),  # no time zone
        ("cursor=!!!", "invalid_cursor", None),
        ("cursor=bm90fGE", "invalid_cursor", None),  # "not|a"
        ("limit=0", "min_value", "limit"),
        ("limit=201", "max_value", "limit"),
    ],
)
def test_bad_queries_are_400_json(partner_client, world, query, code, field):
    response = partner_client.get(f"{EVENTS}?{query}")
    assert (response.status_code, response.json()["code"]) == (400, code)
    if field:
        assert list(response.json()["fields"]) == [field]


def test_an_empty_filter_is_refused_not_ignored(partner_client, world):
    for query in ("status=", "since="):
        response = partner_client.get(f"{EVENTS}?{query}")
        assert (response.status_code, list(response.json()["fields"])) == (400, [query[:-1]])
