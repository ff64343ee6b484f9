"""The dispute loop with the partner that furnished the event: its three answers, its silence past
the deadline, refusals, a race between two answers, and what the member and the partner see."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.notifications.models import Notification
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation import disputes
from scoring.moderation import services as moderation
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep
from scoring.webhooks.models import WebhookMessage
from scoring.webhooks.services import webhook_endpoint_set
from tests.scoring.moderation.checks import assert_rebuild_clean

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/partner/events/"
MISSED = "Card repayment to Acme Bank missed"


def answer_url(event: Event) -> str:
    return f"{EVENTS}{event.external_id}/dispute-response/"


def iso(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def subscribed(acme, settings):  # type: ignore[no-untyped-def]
    """Acme Bank receives dispute webhooks (on a local port: only what is recorded matters here)."""
    settings.WEBHOOKS_ALLOW_LOCAL = True
    webhook_endpoint_set(partner=acme, url="http://127.0.0.1:9/hooks", actor_name="test",
                         types=["event.disputed", "dispute.resolved"])


def steps(dispute: Dispute) -> list[tuple[str, str]]:
    return list(DisputeStep.objects.filter(dispute=dispute).values_list("kind", "by"))


def test_withdrawn_reverses_the_event_and_friends_follow_exactly(
        world, partner_client, run, subscribed, django_capture_on_commit_callbacks, api_as):
    alice, bob, event = world.alice, world.bob, world.missed[0]
    dispute = run(moderation.dispute_open, member=alice, event_id=event.pk, reason="I paid it")
    before, bob_before = ScoreState.objects.get(member=alice), ScoreState.objects.get(member=bob)

    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.send("post", answer_url(event), {"verdict": "withdrawn",
                                                                   "note": "Our error: it was paid."})
    assert response.status_code == 200
    dispute.refresh_from_db()
    event.refresh_from_db()
    assert response.json() == {
        "external_id": "alice-0-card_repayment", "member": "alice", "kind": "card_repayment", "status": "reversed",
        "received_at": iso(event.received_at), "scored_at": iso(event.scored_at),
        "dispute": {"opened_at": iso(dispute.created_at), "status": "accepted", "respond_by": iso(dispute.respond_by),
                    "verdict": "withdrawn", "answered_at": iso(dispute.partner_answered_at),
                    "resolved_at": iso(dispute.resolved_at)}}
    assert (dispute.status, dispute.partner_verdict, dispute.partner_note, dispute.resolved_by) == (
        "accepted", "withdrawn", "Our error: it was paid.", None)
    assert dispute.resolution == "Acme Bank withdrew the event. Their note: “Our error: it was paid.”"
    assert event.status == Event.Status.REVERSED
    after = ScoreState.objects.get(member=alice)
    assert after.score > before.score
    row = ScoreChange.objects.filter(member=alice).first()
    assert (row.cause, row.event_id, row.old_score, row.new_score) == ("moderation", event.pk, before.score,
                                                                       after.score)
    assert row.explanation == (f"Dispute accepted (Acme Bank withdrew the event), event reversed: {MISSED}: "
                               f"+{after.score - before.score}")
    # Bob's contagion moved, to the exact fixed point (assert_rebuild_clean), and his ledger says why.
    bob_after = ScoreState.objects.get(member=bob)
    assert bob_after.social > bob_before.social
    if bob_after.score != bob_before.score:
        bob_row = ScoreChange.objects.filter(member=bob).first()
        assert (bob_row.cause, bob_row.old_score, bob_row.new_score) == ("contagion", bob_before.score,
                                                                         bob_after.score)
        assert bob_row.explanation.startswith("alice: Dispute accepted (Acme Bank withdrew the event)")
    assert_rebuild_clean()
    # The member is told, and sees every step.
    notice = Notification.objects.get(member=alice, kind="dispute")
    assert notice.text == (f"Your dispute of “{MISSED}” was accepted: Acme Bank withdrew the event, so the event no "
                           f"longer counts. Acme Bank's note: “Our error: it was paid.” Your score: {before.score} → "
                           f"{after.score}.")
    assert mail.outbox[-1].subject == "Credo: your dispute was accepted"
    assert steps(dispute) == [("opened", "member"), ("sent", "system"), ("partner_withdrew", "partner")]
    timeline = api_as(alice).get("/api/v1/me/events/").json()["results"]
    mine = next(e for e in timeline if e["id"] == event.pk)
    assert mine["status"] == "reversed" and mine["dispute"]["partner_verdict"] == "withdrawn"
    assert mine["dispute"]["timeline"][-1]["text"] == (
        f"Acme Bank withdrew the event: the event no longer counts. Acme Bank's note: “Our error: it was paid.” "
        f"Your score: {before.score} → {after.score}.")
    # Audited with the partner as the actor's name; the partner was told both times.
    entry = AuditEntry.objects.get(action="dispute_partner_answer")
    assert (entry.actor, entry.actor_name, entry.target_id, entry.member) == (None, "partner:acme", dispute.pk, alice)
    messages = list(WebhookMessage.objects.filter(type__in=["event.disputed", "dispute.resolved"])
                    .order_by("id").values_list("type", "data"))
    assert [(t, d["status"], d["dispute"]["status"]) for t, d in messages] == [
        ("event.disputed", "disputed", "open"), ("dispute.resolved", "reversed", "accepted")]


def test_corrected_replaces_the_facts_and_the_member_sees_it(world, partner_client, run, subscribed,
                                                             django_capture_on_commit_callbacks, api_as):
    alice, event = world.alice, world.missed[1]
    dispute = run(moderation.dispute_open, member=alice, event_id=event.pk, reason="I paid it late, not never")
    before = ScoreState.objects.get(member=alice)
    paid = (event.due_date + timedelta(days=10)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.send("post", answer_url(event), {
            "verdict": "corrected", "corrected": {"missed": False, "paid_date": paid},
            "note": "Paid ten days late"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["dispute"]["status"]) == ("corrected", "corrected")
    event.refresh_from_db()
    dispute.refresh_from_db()
    assert (event.status, event.missed, event.paid_date.isoformat()) == ("scored", False, paid)
    assert event.corrected_at is not None
    after = ScoreState.objects.get(member=alice)
    assert after.score > before.score
    row = ScoreChange.objects.filter(member=alice).first()
    new_text = "Card repayment to Acme Bank 10 days late"
    assert (row.cause, row.event_id, row.old_score, row.new_score) == ("moderation", event.pk, before.score,
                                                                       after.score)
    assert row.explanation == f"Corrected by Acme Bank: {new_text}: +{after.score - before.score}"
    assert (dispute.status, dispute.partner_verdict) == ("corrected", "corrected")
    assert dispute.resolution == (f"Acme Bank corrected the event: was “{MISSED}”, now “{new_text}”. "
                                  "Their note: “Paid ten days late”")
    notice = Notification.objects.filter(member=alice, kind="dispute").get()
    assert notice.text == (f"Your dispute of “{MISSED}”: Acme Bank corrected the event, which now counts as "
                           f"“{new_text}”. Their note: “Paid ten days late” Your score: {before.score} → "
                           f"{after.score}.")
    assert steps(dispute)[-1] == ("partner_corrected", "partner")
    mine = next(e for e in api_as(alice).get("/api/v1/me/events/").json()["results"] if e["id"] == event.pk)
    assert (mine["paid_date"], mine["missed"], mine["dispute"]["status"]) == (paid, False, "corrected")
    entry = AuditEntry.objects.get(action="event_correct")
    assert (entry.actor_name, entry.before, entry.after) == (
        "partner:acme", {"missed": True, "paid_date": None}, {"missed": False, "paid_date": paid})
    resolved = WebhookMessage.objects.get(type="dispute.resolved")
    assert (resolved.data["status"], resolved.data["dispute"]["verdict"]) == ("corrected", "corrected")
    assert_rebuild_clean()


def test_confirmed_goes_to_the_moderators_with_both_notes(world, partner_client, run, mod_client, subscribed,
                                                          django_capture_on_commit_callbacks):
    alice, event = world.alice, world.missed[0]
    dispute = run(moderation.dispute_open, member=alice, event_id=event.pk, reason="I never had this card")
    waiting = mod_client.get("/admin/scoring/dispute/?waiting=moderator").content.decode()
    assert "I never had this card" not in waiting  # still the partner's move
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.send("post", answer_url(event), {"verdict": "confirmed",
                                                                   "note": "Signed contract on file, ref 42"})
    assert (response.status_code, response.json()["status"], response.json()["dispute"]["verdict"]) == (
        200, "disputed", "confirmed")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.partner_verdict) == ("open", "confirmed")
    queue = mod_client.get("/admin/scoring/dispute/?waiting=moderator").content.decode()
    assert "I never had this card" in queue and "Confirmed by the partner: “Signed contract on file, ref 42”" in queue
    page = mod_client.get(f"/admin/scoring/dispute/{dispute.pk}/change/").content.decode()
    assert "I never had this card" in page and "Signed contract on file, ref 42" in page
    assert "The member and the partner" in page
    notice = Notification.objects.get(member=alice, kind="dispute")
    assert notice.text == (f"Your dispute of “{MISSED}”: Acme Bank stands by the event. Their note: “Signed "
                           "contract on file, ref 42” A moderator will now review your dispute and decide.")
    assert not WebhookMessage.objects.filter(type="dispute.resolved").exists()  # not resolved yet
    with django_capture_on_commit_callbacks(execute=True):
        moderation.dispute_reject(dispute_id=dispute.pk, by=None, reason="The contract is signed")
    assert steps(dispute) == [("opened", "member"), ("sent", "system"), ("partner_confirmed", "partner"),
                              ("rejected", "moderator")]
    resolved = WebhookMessage.objects.get(type="dispute.resolved")
    assert (resolved.data["status"], resolved.data["dispute"]["status"]) == ("scored", "rejected")


def test_an_unanswered_dispute_resolves_for_the_member_after_the_deadline(
        world, run, settings, subscribed, django_capture_on_commit_callbacks, member_client):
    settings.DISPUTE_FURNISHER_DAYS = 30
    alice, event = world.alice, world.missed[0]
    opened = timezone.now()
    dispute = run(moderation.dispute_open, member=alice, event_id=event.pk, reason="Not mine")
    with time_machine.travel(opened + timedelta(days=29, hours=23), tick=False):
        assert disputes.disputes_resolve_unanswered() == 0
    before = ScoreState.objects.get(member=alice)
    with time_machine.travel(opened + timedelta(days=30, seconds=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert disputes.disputes_resolve_unanswered() == 1
        assert disputes.disputes_resolve_unanswered() == 0  # once
    dispute.refresh_from_db()
    event.refresh_from_db()
    day = f"{dispute.respond_by:%-d %B %Y}"
    assert (dispute.status, dispute.partner_verdict, dispute.resolved_by) == ("accepted", "", None)
    assert dispute.resolution == f"Acme Bank did not answer it by {day}: resolved in your favour."
    assert event.status == "reversed"
    assert ScoreState.objects.get(member=alice).score > before.score
    entry = AuditEntry.objects.get(action="dispute_unanswered")
    assert (entry.actor, entry.actor_name, entry.target_id) == (None, "system", dispute.pk)
    assert steps(dispute)[-1] == ("unanswered", "system")
    assert WebhookMessage.objects.get(type="dispute.resolved").data["status"] == "reversed"
    page = member_client.get("/score/events/").content.decode()
    assert f"Acme Bank did not answer it by {day}, so it is resolved in your favour" in page


def test_the_members_page_resolves_due_disputes_itself(world, run, member_client, settings):
    """The embedded mode has no beat: reading the events page resolves what is due (a one-day
    deadline here: a month's travel would end the login session too)."""
    settings.DISPUTE_FURNISHER_DAYS = 1
    dispute = run(moderation.dispute_open, member=world.alice, event_id=world.missed[0].pk, reason="Not mine")
    with time_machine.travel(dispute.respond_by + timedelta(seconds=1), tick=False):
        page = member_client.get("/score/events/").content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "accepted"
    assert "Dispute: accepted</summary>" in page


def test_refusals(world, partner_client, bolt_client, run):
    event = world.missed[0]
    body = {"verdict": "withdrawn", "note": "x"}
    nothing = partner_client.send("post", answer_url(event), body)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "no_open_dispute")
    run(moderation.dispute_open, member=world.alice, event_id=event.pk, reason="Not mine")
    theirs = bolt_client.send("post", answer_url(event), body)
    unknown = partner_client.send("post", f"{EVENTS}no-such-event/dispute-response/", body)
    assert (theirs.status_code, theirs.json()) == (404, {"code": "not_found", "detail": "Not found."})
    assert unknown.json() == theirs.json()
    assert Dispute.objects.get().partner_verdict == ""  # the stranger changed nothing
    cases = [
        ({"verdict": "corrected", "note": "x"}, "required", ["corrected"]),
        ({"verdict": "confirmed", "note": "x", "corrected": {"amount": "1.00"}}, "not_for_verdict", ["corrected"]),
        ({"verdict": "corrected", "note": "x", "corrected": {"amount": "abc"}}, "invalid", ["corrected.amount"]),
        ({"verdict": "corrected", "note": "x", "corrected": {"colour": "red"}}, "unknown_field",
         ["corrected.colour"]),
        ({"verdict": "corrected", "note": "x", "corrected": {"paid_date": "2026-01-01"}}, "invalid_correction",
         ["corrected.paid_date"]),  # paid and missed both
        ({"verdict": "corrected", "note": "x", "corrected": {"amount_paid": "500.00"}}, "invalid_correction",
         ["corrected.amount_paid"]),  # more than the amount
        ({"verdict": "maybe", "note": "x"}, "invalid_choice", ["verdict"]),
        ({"verdict": "confirmed"}, "required", ["note"]),
    ]
    for payload, code, fields in cases:
        response = partner_client.send("post", answer_url(event), payload)
        assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (
            400, code, fields), payload
    assert Dispute.objects.get().partner_verdict == ""  # a refused answer is no answer
    assert not Event.objects.get(pk=event.pk).corrected_at
    first = partner_client.send("post", answer_url(event), {"verdict": "confirmed", "note": "On file"})
    assert first.status_code == 200
    second = partner_client.send("post", answer_url(event), {"verdict": "withdrawn", "note": "Changed our mind"})
    assert (second.status_code, second.json()["code"]) == (409, "already_answered")
    dispute = Dispute.objects.get()
    assert (dispute.partner_verdict, dispute.partner_note, dispute.status) == ("confirmed", "On file", "open")


def test_a_dispute_a_moderator_resolved_first_cannot_be_answered(world, partner_client, run):
    dispute = run(moderation.dispute_open, member=world.alice, event_id=world.missed[0].pk, reason="Not mine")
    run(moderation.dispute_accept, dispute_id=dispute.pk, by=None, note="Clearly not hers")
    late = partner_client.send("post", answer_url(world.missed[0]), {"verdict": "confirmed", "note": "x"})
    assert (late.status_code, late.json()["code"]) == (409, "no_open_dispute")
    # ...and an answered dispute is no longer due for the deadline sweep.
    with time_machine.travel(dispute.respond_by + timedelta(days=1), tick=False):
        assert disputes.disputes_resolve_unanswered() == 0


def test_the_deadline_sweep_is_a_periodic_task_and_the_queue_runs_it_too(world, run, mod_client, moderator,
                                                                         settings):
    """Services mode: the beat task, hourly. Embedded mode has no beat: the moderators' queue, when
    read, resolves what is due."""
    from celery import current_app

    entry = settings.CELERY_BEAT_SCHEDULE["scoring-disputes-unanswered"]
    assert entry == {"task": "scoring.moderation.tasks.disputes_resolve_unanswered", "schedule": 3600.0}
    assert entry["task"] in current_app.tasks
    settings.DISPUTE_FURNISHER_DAYS = 1
    dispute = run(moderation.dispute_open, member=world.alice, event_id=world.missed[0].pk, reason="Not mine")
    with time_machine.travel(dispute.respond_by + timedelta(seconds=1), tick=False):
        mod_client.force_login(moderator)  # a day later: the admin's session has ended meanwhile
        assert mod_client.get("/admin/scoring/dispute/").status_code == 200
    dispute.refresh_from_db()
    assert (dispute.status, Event.objects.get(pk=world.missed[0].pk).status) == ("accepted", "reversed")
