"""Flags (API, queue, answers), event reversal / correction by moderators outside disputes,
cutting friendships (audited, undoable) and the suspicious-patterns report."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.notifications.models import Notification
from scoring.contagion.models import ContagionEdge
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation import services
from scoring.moderation.models import AuditEntry, Flag
from social.graph.models import Friendship
from tests.factories import UserFactory
from tests.scoring.moderation.checks import assert_rebuild_clean
from tests.scoring.moderation.conftest import befriend

pytestmark = pytest.mark.django_db


def test_flagging_a_profile(world, api_as, api):
    alice_api = api_as(world.alice)
    response = alice_api.post("/api/v1/flags/", {"username": "mallory", "reason": "Fake account"}, format="json")
    assert response.status_code == 201
    flag = Flag.objects.get()
    assert response.json() == {"id": flag.pk, "username": "mallory", "reason": "Fake account", "status": "open",
                               "created_at": response.json()["created_at"]}
    again = alice_api.post("/api/v1/flags/", {"username": "mallory", "reason": "again"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_flagged")
    me = alice_api.post("/api/v1/flags/", {"username": "alice", "reason": "x"}, format="json")
    assert (me.status_code, me.json()["code"]) == (400, "cannot_flag_self")
    ghost = alice_api.post("/api/v1/flags/", {"username": "nobody", "reason": "x"}, format="json")
    assert (ghost.status_code, ghost.json()["code"]) == (404, "not_found")
    assert api.post("/api/v1/flags/", {"username": "mallory", "reason": "x"}, format="json").status_code == 401
    # Nobody else sees alice's flags, and mallory is not told.
    assert api_as(world.bob).get("/api/v1/flags/").json() == {"results": []}
    assert api_as(world.mallory).get("/api/v1/me/notices/").json() == {"results": []}


def test_flags_are_rate_limited(world, api_as):
    alice_api = api_as(world.alice)
    for n in range(services.MAX_FLAGS_PER_DAY):
        UserFactory(username=f"target{n}")
        assert alice_api.post("/api/v1/flags/", {"username": f"target{n}", "reason": "x"},
                              format="json").status_code == 201
    UserFactory(username="one-more")
    over = alice_api.post("/api/v1/flags/", {"username": "one-more", "reason": "x"}, format="json")
    assert (over.status_code, over.json()["code"]) == (429, "rate_limited")
    assert Flag.objects.count() == services.MAX_FLAGS_PER_DAY


def test_flag_from_the_dashboard_and_the_queue(world, member_client, mod_client, moderator,
                                               django_capture_on_commit_callbacks):
    assert member_client.post("/report/", {"username": "mallory", "reason": "Spam"}).status_code == 302
    flag = Flag.objects.get()
    queue = mod_client.get("/admin/scoring/flag/?status=open")
    assert b"Open flags: <strong>1</strong>" in queue.content
    data = {"action": "dismiss_flags", "_selected_action": [flag.pk]}
    assert b"Dismiss 1 flag(s)" in mod_client.post("/admin/scoring/flag/", data).content
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/scoring/flag/", {**data, "confirm": "1", "reason": "Not spam"})
    flag.refresh_from_db()
    assert (flag.status, flag.resolution, flag.resolved_by) == ("dismissed", "Not spam", moderator)
    assert Notification.objects.get(member=world.alice, kind="flag").text == (
        "Thank you: a moderator reviewed your report about mallory and found no breach of the rules.")
    assert not Notification.objects.filter(member=world.mallory, kind="flag").exists()
    entry = AuditEntry.objects.get(action="flag_dismiss")
    undo = services.action_undo(entry_id=entry.pk, by=moderator, reason="Look again")
    assert (undo.action, Flag.objects.get().status) == ("flag_reopen", "open")


def test_moderator_reverses_and_corrects_events_outside_disputes(world, mod_client, moderator,
                                                                  django_capture_on_commit_callbacks):
    alice = world.alice
    event = world.missed[1]
    start = ScoreState.objects.get(member=alice)
    data = {"action": "reverse_events", "_selected_action": [event.pk]}
    assert b"Reverse 1 event(s)" in mod_client.post("/admin/scoring/event/", data).content
    refused = mod_client.post("/admin/scoring/event/", {**data, "confirm": "1", "reason": ""})
    assert refused.status_code == 200 and Event.objects.get(pk=event.pk).status == "scored"  # reason required
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/scoring/event/", {**data, "confirm": "1", "reason": "Duplicate from the partner"})
    assert Event.objects.get(pk=event.pk).status == "reversed"
    reversed_state = ScoreState.objects.get(member=alice)
    row = ScoreChange.objects.filter(member=alice).first()
    assert (row.cause, row.event_id, row.explanation) == (
        "moderation", event.pk,
        f"Reversed by a moderator: Card repayment to Acme Bank missed: +{reversed_state.score - start.score}")
    assert Notification.objects.get(member=alice, kind="event").text.startswith(
        "A moderator reversed this event: Card repayment to Acme Bank missed. It no longer counts. "
        "Why: Duplicate from the partner.")

    # Correct another one: it was paid 3 days late, not missed.
    target = world.missed[2]
    correct = {"action": "correct_event", "_selected_action": [target.pk]}
    assert b"Correct event #" in mod_client.post("/admin/scoring/event/", correct).content
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/scoring/event/", {
            **correct, "confirm": "1", "amount": "100.00", "amount_paid": "", "due_date": "2026-03-02",
            "paid_date": "2026-03-05", "reason": "Partner sent the wrong outcome"})
    target.refresh_from_db()
    assert (target.missed, target.paid_date) == (False, date(2026, 3, 5))
    entry = AuditEntry.objects.get(action="event_correct")
    assert entry.before == {"missed": True, "paid_date": None}
    assert entry.after == {"missed": False, "paid_date": "2026-03-05"}
    assert_rebuild_clean()
    # Both undone: the score returns exactly.
    with django_capture_on_commit_callbacks(execute=True):
        services.action_undo(entry_id=entry.pk, by=moderator, reason="Partner was right")
        services.action_undo(entry_id=AuditEntry.objects.get(action="event_reverse").pk, by=moderator,
                               reason="Not a duplicate")
    end = ScoreState.objects.get(member=alice)
    assert (end.score, end.base) == (start.score, start.base)
    target.refresh_from_db()
    assert (target.missed, target.paid_date, target.amount) == (True, None, Decimal("100.00"))
    assert_rebuild_clean()


def test_invalid_corrections_are_refused(world, moderator):
    with pytest.raises(services.ModerationError) as exc:
        services.event_correct(event_id=world.missed[0].pk, by=moderator, reason="x",
                                 changes={"paid_date": date(2026, 1, 3)})  # paid and missed at once
    assert exc.value.code == "invalid_correction"
    assert not AuditEntry.objects.exists()


def test_cutting_a_friendship_is_audited_and_undoable(world, mod_client, moderator,
                                                     django_capture_on_commit_callbacks):
    friendship = Friendship.objects.active().between(world.alice.pk, world.bob.pk).get()
    before = set(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/social/friendship/", {"action": "cut", "_selected_action": [friendship.pk],
                                                      "confirm": "1", "reason": "Farming ring"})
    assert Friendship.objects.get(pk=friendship.pk).ended_reason == "moderator"
    entry = AuditEntry.objects.get(action="friendship_cut")
    assert (entry.actor, entry.target_id, entry.reason) == (moderator, friendship.pk, "Farming ring")
    assert len(ContagionEdge.objects.all()) == 1
    history = mod_client.get(f"/admin/accounts/user/{world.bob.pk}/change/").content.decode()
    assert "Friendship cut" in history  # in both members' moderation history
    with django_capture_on_commit_callbacks(execute=True):
        services.action_undo(entry_id=entry.pk, by=moderator, reason="Real friends")
    restored = Friendship.objects.active().between(world.alice.pk, world.bob.pk).get()
    assert restored.accepted_at == friendship.accepted_at
    assert set(ContagionEdge.objects.values_list("member_a_id", "member_b_id")) == before
    assert_rebuild_clean()


def test_suspicious_patterns_report(world, mod_client, member_client, run):
    from accounts.members.models import User

    hub = UserFactory(username="hub")
    rich = [UserFactory(username=f"rich{n}") for n in range(3)]
    for r in rich:
        run(befriend, a=hub, b=r)
    # Scores as the report sees them (set directly: the report only reads them).
    User.objects.filter(pk=hub.pk).update(score=400)
    User.objects.filter(pk__in=[r.pk for r in rich]).update(score=800)
    page = mod_client.get("/admin/scoring/flag/suspicious-patterns/").content.decode()
    assert f'<a href="/admin/accounts/user/{hub.pk}/change/">hub</a></td><td>400</td>' in page
    assert "rich0 (800), rich1 (800), rich2 (800)" in page
    assert member_client.get("/admin/scoring/flag/suspicious-patterns/").status_code == 302
