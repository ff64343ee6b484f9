"""Disputes: members open them (API and dashboard), moderators accept or reject them in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from accounts.notifications.models import Notification
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation import services
from scoring.moderation.models import AuditEntry, Dispute
from tests.scoring.moderation.checks import assert_rebuild_clean

pytestmark = pytest.mark.django_db


def dispute_url(event: Event) -> str:
    return f"/api/v1/me/events/{event.pk}/dispute/"


def test_member_disputes_an_event_once(world, api_as, api):
    alice_api = api_as(world.alice)
    event = world.missed[0]
    response = alice_api.post(dispute_url(event), {"reason": "I paid this on time"}, format="json")
    assert response.status_code == 201
    dispute = Dispute.objects.get()
    body = response.json()
    opened = body["created_at"]
    assert body == {
        "id": dispute.pk, "event": event.pk, "reason": "I paid this on time", "status": "open",
        "created_at": opened, "resolved_at": None, "resolution": "",
        "respond_by": dispute.respond_by.isoformat().replace("+00:00", "Z"), "partner_verdict": None,
        "partner_note": "", "partner_answered_at": None,
        "timeline": [
            {"at": opened, "kind": "opened", "by": "member", "text": "You disputed this event: “I paid this on time”"},
            {"at": opened, "kind": "sent", "by": "system",
             "text": f"Sent to Acme Bank, which reported it, to check. It must answer by "
                     f"{dispute.respond_by:%-d %B %Y}; if it does not, the event is removed in your favour."},
        ],
    }
    assert dispute.respond_by == dispute.created_at + timedelta(days=30)
    again = alice_api.post(dispute_url(event), {"reason": "really"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "dispute_already_open"
    assert Dispute.objects.count() == 1
    listed = alice_api.get("/api/v1/me/disputes/").json()["results"]
    assert [(d["id"], d["status"]) for d in listed] == [(dispute.pk, "open")]


def test_disputes_are_private(world, api_as, api):
    event = world.missed[0]
    bob_api = api_as(world.bob)
    response = bob_api.post(dispute_url(event), {"reason": "not mine"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    missing = bob_api.post("/api/v1/me/events/999999/dispute/", {"reason": "x"}, format="json")
    assert missing.json() == response.json()  # another member's event and no event look the same
    assert api.post(dispute_url(event), {"reason": "x"}, format="json").status_code == 401
    api_as(world.alice).post(dispute_url(event), {"reason": "mine"}, format="json")
    assert api_as(world.mallory).get("/api/v1/me/disputes/").json() == {"results": []}
    assert api.get("/api/v1/me/disputes/").status_code == 401


def test_dispute_needs_a_reason_and_a_live_event(world, api_as, run):
    alice_api = api_as(world.alice)
    empty = alice_api.post(dispute_url(world.missed[0]), {}, format="json")
    assert (empty.status_code, empty.json()["code"]) == (400, "required")
    extra = alice_api.post(dispute_url(world.missed[0]), {"reason": "x", "amount": 1}, format="json")
    assert extra.json()["code"] == "unknown_field"
    run(services.event_reverse, event_id=world.missed[1].pk, by=None, reason="partner error")
    reversed_ = alice_api.post(dispute_url(world.missed[1]), {"reason": "x"}, format="json")
    assert (reversed_.status_code, reversed_.json()["code"]) == (409, "not_disputable")


def test_member_disputes_from_the_events_page(world, member_client):
    event = world.missed[0]
    page = member_client.get("/score/events/")
    assert f'action="/score/events/{event.pk}/dispute/"'.encode() in page.content
    response = member_client.post(f"/score/events/{event.pk}/dispute/", {"reason": "Paid on time"})
    assert response.status_code == 302
    assert Dispute.objects.get().reason == "Paid on time"
    assert b"Dispute: waiting for Acme Bank (answer due " in member_client.get("/score/events/").content
    # Someone else's event: 404, nothing recorded.
    other = member_client.post(f"/score/events/{world.missed[0].pk + 1000}/dispute/", {"reason": "x"})
    assert other.status_code == 404


def accept_via_admin(client, dispute, note=""):  # type: ignore[no-untyped-def]
    data = {"action": "accept_disputes", "_selected_action": [dispute.pk]}
    return client.post("/admin/scoring/dispute/", data), lambda: client.post(
        "/admin/scoring/dispute/", {**data, "confirm": "1", "note": note})


def test_accepting_a_dispute_reverses_the_event_and_friends_follow_exactly(
        world, mod_client, moderator, django_capture_on_commit_callbacks, api_as):
    alice, bob = world.alice, world.bob
    event = world.missed[0]
    dispute = services.dispute_open(member=alice, event_id=event.pk, reason="I paid it")
    before = ScoreState.objects.get(member=alice)
    bob_before = ScoreState.objects.get(member=bob)

    queue = mod_client.get("/admin/scoring/dispute/?status=open")
    assert queue.status_code == 200
    assert b"the oldest has waited" in queue.content
    confirm, do = accept_via_admin(mod_client, dispute, note="The partner confirmed the payment")
    assert confirm.status_code == 200 and b"Accept 1 dispute(s)" in confirm.content
    assert Dispute.objects.get().status == "open"  # nothing before confirming
    with django_capture_on_commit_callbacks(execute=True):
        done = do()
    assert done.status_code == 302

    dispute.refresh_from_db()
    event.refresh_from_db()
    assert (dispute.status, dispute.resolved_by, dispute.resolution) == (
        "accepted", moderator, "The partner confirmed the payment")
    assert event.status == Event.Status.REVERSED
    after = ScoreState.objects.get(member=alice)
    assert after.score > before.score  # one missed payment fewer
    row = ScoreChange.objects.filter(member=alice).first()
    assert (row.cause, row.event_id, row.old_score, row.new_score) == ("moderation", event.pk, before.score,
                                                                       after.score)
    assert row.explanation == (f"Dispute accepted, event reversed: Card repayment to Acme Bank missed: "
                               f"+{after.score - before.score}")
    # Bob's points moved through contagion, and his ledger says why.
    bob_after = ScoreState.objects.get(member=bob)
    assert bob_after.social > bob_before.social
    if bob_after.score != bob_before.score:
        bob_row = ScoreChange.objects.filter(member=bob).first()
        assert bob_row.cause == "contagion"
        assert bob_row.explanation.startswith("alice: Dispute accepted, event reversed: Card repayment to Acme")
    # The member is told, in the app and by email.
    notice = Notification.objects.get(member=alice, kind="dispute")
    assert notice.text == (
        "Your dispute of “Card repayment to Acme Bank missed” was accepted: the event no longer counts. "
        f"The partner confirmed the payment Your score: {before.score} → {after.score}.")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert mail.outbox[0].subject == "Credo: your dispute was accepted"
    api_dispute = api_as(alice).get("/api/v1/me/disputes/").json()["results"][0]
    assert (api_dispute["status"], api_dispute["resolution"]) == ("accepted", "The partner confirmed the payment")
    assert api_as(alice).get("/api/v1/me/notices/").json()["results"][0]["text"] == notice.text
    # Audited.
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.member, entry.target_type, entry.target_id) == (
        moderator, "dispute_accept", alice, "dispute", dispute.pk)
    assert entry.before["event"]["status"] == "scored" and entry.after["event"]["status"] == "reversed"
    assert_rebuild_clean()


def test_rejecting_keeps_the_event_and_the_member_sees_why(world, mod_client, django_capture_on_commit_callbacks,
                                                           member_client):
    alice = world.alice
    dispute = services.dispute_open(member=alice, event_id=world.missed[0].pk, reason="I paid it")
    score = ScoreState.objects.get(member=alice).score
    data = {"action": "reject_disputes", "_selected_action": [dispute.pk], "confirm": "1"}
    no_reason = mod_client.post("/admin/scoring/dispute/", data)
    assert no_reason.status_code == 200 and Dispute.objects.get().status == "open"  # a reason is required
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/scoring/dispute/", {**data, "reason": "The bank's statement shows it missed"})
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("rejected", "The bank's statement shows it missed")
    assert Event.objects.get(pk=world.missed[0].pk).status == "scored"
    assert ScoreState.objects.get(member=alice).score == score
    assert Notification.objects.get(member=alice, kind="dispute").text == (
        "Your dispute of “Card repayment to Acme Bank missed” was rejected: the event still counts. "
        "Why: The bank's statement shows it missed")
    assert mail.outbox[0].subject == "Credo: your dispute was answered"
    page = member_client.get("/score/events/").content.decode()
    assert "Dispute: rejected</summary>" in page
    assert "A moderator rejected your dispute: the event still counts. Why: The bank&#x27;s statement shows it " \
           "missed" in page
    assert b"was rejected" in member_client.get("/dashboard/").content
    # Answered once: a second answer is refused.
    with pytest.raises(services.ModerationError) as exc:
        services.dispute_accept(dispute_id=dispute.pk, by=None)
    assert exc.value.code == "dispute_closed"
    assert AuditEntry.objects.filter(action="dispute_reject").count() == 1


def test_a_plain_member_cannot_answer_disputes_in_the_admin(world, member_client):
    dispute = services.dispute_open(member=world.alice, event_id=world.missed[0].pk, reason="x")
    for url in ["/admin/scoring/dispute/", f"/admin/scoring/dispute/{dispute.pk}/change/"]:
        assert member_client.get(url).status_code == 302  # to the admin login
    response = member_client.post("/admin/scoring/dispute/", {
        "action": "accept_disputes", "_selected_action": [dispute.pk], "confirm": "1"})
    assert response.status_code == 302
    assert Dispute.objects.get().status == "open"
    assert AuditEntry.objects.count() == 0


def test_undoing_an_accepted_dispute_restores_the_score_exactly(world, moderator, run):
    alice = world.alice
    before = ScoreState.objects.get(member=alice)
    dispute = services.dispute_open(member=alice, event_id=world.missed[0].pk, reason="x")
    entry = run(services.dispute_accept, dispute_id=dispute.pk, by=moderator)
    assert ScoreState.objects.get(member=alice).score != before.score
    undo = run(services.action_undo, entry_id=entry.pk, by=moderator, reason="Accepted by mistake")
    assert (undo.action, undo.undoes) == ("dispute_reopen", entry)
    restored = ScoreState.objects.get(member=alice)
    assert (restored.score, restored.base, restored.factors) == (before.score, before.base, before.factors)
    assert Event.objects.get(pk=world.missed[0].pk).status == "scored"
    assert Dispute.objects.get().status == "open"  # back in the queue
    with pytest.raises(services.ModerationError) as exc:
        services.action_undo(entry_id=entry.pk, by=moderator, reason="again")
    assert exc.value.code == "already_undone"
    assert_rebuild_clean()
