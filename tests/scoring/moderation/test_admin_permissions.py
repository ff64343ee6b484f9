"""What a moderator may do in the admin, and nothing else; plain members are refused; the audit
log is append-only for everyone."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group

from accounts.members.models import User
from accounts.members.moderators import MODERATOR_PERMISSIONS, MODERATORS_GROUP
from scoring.moderation import services
from scoring.moderation.admin import csv_safe
from scoring.moderation.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MODERATION_PERMISSIONS = [
    "scoring.view_dispute", "scoring.change_dispute", "scoring.view_flag", "scoring.change_flag",
    "scoring.view_auditentry", "scoring.moderate_events", "scoring.freeze_member", "scoring.undo_action",
    "scoring.view_suspicious_patterns", "scoring.export_csv",
]


def test_the_moderators_group_holds_exactly_the_moderation_permissions(moderator):
    for perm in MODERATION_PERMISSIONS:
        assert perm in MODERATOR_PERMISSIONS
        assert moderator.has_perm(perm), perm
    codenames = list(Group.objects.get(name=MODERATORS_GROUP).permissions.values_list(
        "content_type__app_label", "codename"))
    assert not [c for c in codenames if c[1].startswith("delete_")]
    assert not [c for c in codenames if c[0] == "auth"]
    assert not moderator.has_perm("scoring.change_auditentry")
    assert not moderator.has_perm("accounts.delete_user")


def test_moderator_pages(world, mod_client):
    alice = world.alice
    services.dispute_open(member=alice, event_id=world.missed[0].pk, reason="x")
    services.flag_create(reporter=world.mallory, username="alice", reason="fake")
    partner = world.missed[0].partner_id
    for url in ["/admin/", "/admin/scoring/dispute/", f"/admin/scoring/dispute/?status=open&event__partner={partner}",
                "/admin/scoring/flag/", "/admin/scoring/auditentry/", "/admin/scoring/event/",
                "/admin/accounts/user/?band=Good", "/admin/accounts/user/?status=frozen",
                "/admin/accounts/user/?date_joined__gte=2020-01-01T00:00:00%2B00:00",
                "/admin/scoring/flag/suspicious-patterns/"]:
        assert mod_client.get(url).status_code == 200, url
    found = mod_client.get("/admin/accounts/user/?q=alice@example.com")
    assert found.context["cl"].result_count == 1
    page = mod_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    for section in ["Score and factor breakdown", "Ledger (latest 30)", "Events (latest 30)", "Friends",
                    "Disputes", "Flags", "Moderation history", "Card repayments on time", "bob"]:
        assert section in page, section
    assert "is_superuser" not in page and "user_permissions" not in page


def test_moderator_cannot_delete_or_grant(world, mod_client, moderator):
    alice = world.alice
    assert mod_client.get(f"/admin/accounts/user/{alice.pk}/delete/").status_code == 403
    assert mod_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"}).status_code == 403
    assert mod_client.get("/admin/accounts/user/add/").status_code == 403
    assert mod_client.get("/admin/auth/group/").status_code in {403, 404}
    assert mod_client.get(f"/admin/auth/group/{Group.objects.get().pk}/change/").status_code in {403, 404}
    # Posting role fields into the member form changes nothing.
    page = mod_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"is_superuser": "on", "is_staff": "on", "groups": [Group.objects.get().pk], "city": "Lyon"})
    assert mod_client.post(f"/admin/accounts/user/{alice.pk}/change/", data).status_code == 302
    alice.refresh_from_db()
    assert (alice.is_superuser, alice.is_staff, alice.groups.count(), alice.city) == (False, False, 0, "Lyon")
    # …and the edit itself is audited.
    edit = AuditEntry.objects.get(action="member_edit")
    assert (edit.actor, edit.member, edit.before, edit.after) == (moderator, alice, {"city": ""}, {"city": "Lyon"})


def test_plain_members_and_strangers_are_refused(world, member_client, client):
    urls = ["/admin/", "/admin/scoring/dispute/", "/admin/scoring/flag/", "/admin/scoring/auditentry/",
            f"/admin/accounts/user/{world.bob.pk}/change/", "/admin/scoring/flag/suspicious-patterns/"]
    for c in (member_client, client):
        for url in urls:
            response = c.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = member_client.post("/admin/accounts/user/", {
        "action": "freeze_members", "_selected_action": [world.bob.pk], "confirm": "1", "reason": "x"})
    assert response.status_code == 302
    assert User.objects.get(pk=world.bob.pk).is_frozen is False


def test_the_audit_log_is_append_only_even_for_superusers(world, moderator, client, run):
    entry = run(services.member_freeze, member_id=world.bob.pk, by=moderator, reason="x")
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert client.get(f"/admin/scoring/auditentry/{entry.pk}/delete/").status_code == 403
    client.post(f"/admin/scoring/auditentry/{entry.pk}/change/", {"reason": "rewritten"})
    response = client.post("/admin/scoring/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk],
                                                          "post": "yes"})
    assert response.status_code in {200, 302}
    assert AuditEntry.objects.get(pk=entry.pk).reason == "x"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="y")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_csv_export_escapes_formulas_and_is_audited(world, mod_client, moderator):
    UserFactory(username="=cmd", email="@evil@example.com")
    response = mod_client.post("/admin/accounts/user/", {
        "action": "export_csv", "_selected_action": list(User.objects.values_list("pk", flat=True))})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["username", "email", "score", "score_band", "status", "date_joined"]
    evil = next(r for r in rows if r[0].endswith("=cmd"))
    assert evil[:2] == ["'=cmd", "'@evil@example.com"]
    alice = next(r for r in rows if r[0] == "alice")
    assert alice[2] == str(world.alice.score)
    entry = AuditEntry.objects.get(action="csv_export")
    # Every member selected, but not the moderator: accounts that can enter the admin are out of a
    # moderator's reach (accounts.members.admin).
    assert (entry.actor, entry.target_type, entry.after["count"]) == (
        moderator, "user", User.objects.exclude(pk=moderator.pk).count())


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("alice", "alice"), ("", ""), (-12, -12), (3.5, 3.5), (None, None),
])
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected
