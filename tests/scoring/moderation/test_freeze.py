"""Freezing: off the boards, out of contagion both ways (exactly reversed), writes refused, the
member sees why; unfreezing restores everything; a periodic task ends dated freezes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.members.models import User
from accounts.privacy.models import DataExport
from scoring.contagion.models import ContagionEdge
from scoring.contagion.services import PARAMS
from scoring.ledger.models import ScoreState
from scoring.moderation import services
from scoring.moderation.models import AuditEntry
from tests.scoring.contagion.test_contagion_db import assert_matches_exact_solve
from tests.scoring.moderation.checks import assert_rebuild_clean

pytestmark = pytest.mark.django_db


def snapshot() -> dict[int, tuple[int, float, float]]:
    return {m: (score, base, social) for m, score, base, social in
            ScoreState.objects.values_list("member_id", "score", "base", "social")}


def edges() -> set[tuple[int, int]]:
    return set(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))


def freeze_via_admin(client, member, reason="Suspected farming ring", until=""):  # type: ignore[no-untyped-def]
    data = {"action": "freeze_members", "_selected_action": [member.pk]}
    confirm = client.post("/admin/accounts/user/", data)
    assert confirm.status_code == 200 and b"Freeze 1 member(s)" in confirm.content
    return client.post("/admin/accounts/user/", {**data, "confirm": "1", "reason": reason, "until": until})


def test_freeze_and_unfreeze_through_the_admin_are_exact(world, mod_client, moderator,
                                                        django_capture_on_commit_callbacks):
    alice, bob, carol = world.alice, world.bob, world.carol
    before, before_edges = snapshot(), edges()
    assert len(before_edges) == 2
    assert User.objects.get(pk=bob.pk).is_frozen is False  # the confirmation page changed nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        assert freeze_via_admin(mod_client, bob).status_code == 302
    bob.refresh_from_db()
    assert (bob.is_frozen, bob.frozen_reason, bob.frozen_until) == (True, "Suspected farming ring", None)
    assert edges() == set()  # both of bob's friendships left contagion; alice and carol are alone
    frozen = snapshot()
    assert frozen[alice.pk][2] != before[alice.pk][2] and frozen[carol.pk][2] != before[carol.pk][2]
    assert abs(frozen[alice.pk][2]) <= PARAMS.lam * PARAMS.error_bound  # no friends: no social points
    assert_matches_exact_solve()
    entry = AuditEntry.objects.get(action="member_freeze")
    assert (entry.actor, entry.member, entry.reason, entry.before["is_frozen"], entry.after["is_frozen"]) == (
        moderator, bob, "Suspected farming ring", False, True)

    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/accounts/user/", {"action": "unfreeze_members", "_selected_action": [bob.pk],
                                                  "confirm": "1", "reason": "Cleared after review"})
    bob.refresh_from_db()
    assert (bob.is_frozen, bob.frozen_at, bob.frozen_reason) == (False, None, "")
    assert edges() == before_edges
    after = snapshot()
    for member_id, (score, base, social) in before.items():
        assert after[member_id][0] == score
        assert after[member_id][1] == base
        assert abs(after[member_id][2] - social) <= 2 * PARAMS.lam * PARAMS.error_bound
    assert [a.action for a in AuditEntry.objects.order_by("created_at", "id")] == ["member_freeze", "member_unfreeze"]
    assert_rebuild_clean()


def test_a_frozen_member_reads_but_cannot_write(world, api_as, run, moderator):
    bob = world.bob
    run(services.member_freeze, member_id=bob.pk, by=moderator, reason="Fake events")
    bob_api = api_as(bob)
    assert bob_api.get("/api/v1/me/").status_code == 200
    assert bob_api.get("/api/v1/me/score/").status_code == 200
    for method, url, body in [
        ("patch", "/api/v1/me/", {"city": "Lyon"}),
        ("post", "/api/v1/friend-requests/", {"to": "mallory"}),
        ("delete", "/api/v1/friends/alice/", None),
        ("post", "/api/v1/flags/", {"username": "mallory", "reason": "x"}),
        ("post", "/api/v1/me/delete/", {"password": "x", "confirm": True}),
    ]:
        response = getattr(bob_api, method)(url, body, format="json")
        assert response.status_code == 403, url
        assert response.json() == {"code": "account_frozen", "detail": (
            "Your account is frozen by a moderator: you can read, but not change anything.")}
    # Taking their data with them still works.
    assert bob_api.post("/api/v1/me/export/").status_code == 202
    assert DataExport.objects.filter(member=bob).count() == 1
    # Others are not affected.
    assert api_as(world.alice).patch("/api/v1/me/", {"city": "Lyon"}, format="json").status_code == 200


def test_a_frozen_member_sees_why_on_the_dashboard_and_web_posts_are_refused(world, run, moderator, client):
    bob = world.bob
    run(services.member_freeze, member_id=bob.pk, by=moderator, reason="Fake events",
        until=timezone.now() + timedelta(days=3))
    client.force_login(bob)
    page = client.get("/dashboard/").content.decode()
    assert "Your account is frozen by a moderator" in page and "Why: Fake events." in page
    assert "A moderator froze your account until" in page  # the notice
    refused = client.post("/settings/", {"form": "privacy", "privacy-private_mode": "on"})
    assert refused.status_code == 403
    assert User.objects.get(pk=bob.pk).private_mode is False


def test_a_dated_freeze_ends_by_itself(world, run, moderator):
    bob = world.bob
    until = timezone.now() + timedelta(days=2)
    run(services.member_freeze, member_id=bob.pk, by=moderator, reason="Cooling off", until=until)
    assert run(services.members_unfreeze_expired) == 0
    with time_machine.travel(until + timedelta(seconds=1)):
        from scoring.moderation.tasks import members_unfreeze_expired

        assert run(members_unfreeze_expired.apply).get() == 1
    bob.refresh_from_db()
    assert bob.is_frozen is False
    entry = AuditEntry.objects.get(action="member_unfreeze")
    assert (entry.actor, entry.actor_name, entry.reason) == (None, "system", "The freeze reached its end date.")
    assert len(edges()) == 2


def test_undo_of_a_freeze_is_an_audited_unfreeze(world, mod_client, moderator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.member_freeze(member_id=world.bob.pk, by=moderator, reason="oops")
    data = {"action": "undo_actions", "_selected_action": [entry.pk]}
    assert b"Undo 1 action(s)" in mod_client.post("/admin/scoring/auditentry/", data).content
    with django_capture_on_commit_callbacks(execute=True):
        mod_client.post("/admin/scoring/auditentry/", {**data, "confirm": "1", "reason": "Wrong member"})
    assert User.objects.get(pk=world.bob.pk).is_frozen is False
    undo = AuditEntry.objects.get(undoes=entry)
    assert (undo.action, undo.actor, undo.reason) == ("member_unfreeze", moderator, "Wrong member")
    # Freezing twice, or unfreezing someone not frozen, is refused.
    with pytest.raises(services.ModerationError) as exc:
        services.member_unfreeze(member_id=world.bob.pk, by=moderator, reason="x")
    assert exc.value.code == "not_frozen"
    assert len(edges()) == 2


def test_a_frozen_member_leaves_every_board_and_comes_back(world, api_as, run, moderator):
    alice, bob = world.alice, world.bob
    User.objects.filter(pk__in=[alice.pk, bob.pk]).update(on_global_board=True)

    def board(name: str, viewer: User) -> list[str]:
        response = api_as(viewer).get(f"/api/v1/leaderboards/{name}/?limit=50")
        assert response.status_code == 200
        return [e["username"] for e in response.json()["entries"]]

    assert "bob" in board("global", alice) and "bob" in board("friends", alice)
    entry = run(services.member_freeze, member_id=bob.pk, by=moderator, reason="x")
    assert "bob" not in board("global", alice)
    assert "bob" not in board("friends", alice)
    assert "bob" not in board("friends", world.carol)
    run(services.action_undo, entry_id=entry.pk, by=moderator, reason="back")
    assert "bob" in board("global", alice) and "bob" in board("friends", alice)
