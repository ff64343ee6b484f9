"""Members' control over their data: the settings explain privacy; export; account deletion."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from knox.models import AuthToken

from accounts.members.models import User
from accounts.privacy import services as privacy
from accounts.privacy.models import DataExport
from scoring.contagion.models import ContagionEdge
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation import services as moderation
from social.graph.models import Friendship
from tests.factories import PASSWORD
from tests.scoring.moderation.checks import assert_rebuild_clean

pytestmark = pytest.mark.django_db


def test_settings_explain_the_privacy_controls(world, member_client):
    page = member_client.get("/settings/").content.decode()
    for text in ["Profile visibility", "Global leaderboard", "Private mode", "Your data: download"]:
        assert text in page
    data = member_client.get("/settings/data/").content.decode()
    assert "Download everything we hold about you" in data and "Delete my account" in data


def export_ready(api, run):  # type: ignore[no-untyped-def]
    response = run(api.post, path="/api/v1/me/export/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    return body["id"]


def test_export_everything_about_me(world, api_as, run, django_capture_on_commit_callbacks):
    alice = world.alice
    moderation.dispute_open(member=alice, event_id=world.missed[0].pk, reason="paid")
    moderation.flag_create(reporter=alice, username="mallory", reason="spam")
    api = api_as(alice)
    export_id = export_ready(api, run)
    status = api.get(f"/api/v1/me/export/{export_id}/").json()
    assert status["status"] == "ready" and status["url"].startswith(
        f"http://testserver/api/v1/me/export/{export_id}/download/?sig=")
    assert status["expires_at"] is not None
    download = api.get(status["url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="credo-export-{export_id}.json"'
    data = json.loads(b"".join(download.streaming_content))
    assert data["format"] == "credo-export/1"
    assert data["profile"]["username"] == "alice" and data["profile"]["email"] == "alice@example.com"
    assert len(data["events"]) == 6
    assert len(data["ledger"]) == ScoreChange.objects.filter(member=alice).count()
    assert [f["friend"] for f in data["friendships"]] == ["bob"]
    assert [(d["event"], d["status"]) for d in data["disputes"]] == [(world.missed[0].pk, "open")]
    assert [step["kind"] for step in data["disputes"][0]["timeline"]] == ["opened", "sent"]
    assert [(f["username"], f["reason"]) for f in data["flags_made"]] == [("mallory", "spam")]
    assert data["score"]["score"] == ScoreState.objects.get(member=alice).score


def test_an_export_is_for_its_owner_only(world, api_as, run, api):
    alice_api, bob_api = api_as(world.alice), api_as(world.bob)
    export_id = export_ready(alice_api, run)
    url = alice_api.get(f"/api/v1/me/export/{export_id}/").json()["url"]
    assert bob_api.get(f"/api/v1/me/export/{export_id}/").status_code == 404
    assert bob_api.get(url).json()["code"] == "not_found"  # a valid link is useless to someone else
    assert api.get(url).status_code == 401
    tampered = alice_api.get(url[:-3] + "xyz")
    assert (tampered.status_code, tampered.json()["code"]) == (403, "bad_signature")
    assert alice_api.get(url.split("?")[0]).json()["code"] == "bad_signature"
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        late = alice_api.get(url)
        assert (late.status_code, late.json()["code"]) == (410, "export_expired")
        assert run(privacy.data_exports_expire) == 1
    assert DataExport.objects.get().status == "expired"


def test_export_from_the_web_page(world, member_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert member_client.post("/settings/data/export/").status_code == 302
    page = member_client.get("/settings/data/").content.decode()
    export = DataExport.objects.get()
    assert export.status == "ready" and f"/api/v1/me/export/{export.pk}/download/?sig=" in page


def test_deleting_my_account(world, api_as, run, acme):
    alice, bob = world.alice, world.bob
    api = api_as(alice)
    info = api.get("/api/v1/me/delete/").json()
    assert info == {"removed": privacy.REMOVED, "kept": privacy.KEPT}
    wrong = api.post("/api/v1/me/delete/", {"password": "nope", "confirm": True}, format="json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "wrong_password")
    unconfirmed = api.post("/api/v1/me/delete/", {"password": PASSWORD, "confirm": False}, format="json")
    assert unconfirmed.json()["code"] == "confirmation_required"
    assert any(r.explanation.startswith("alice: ") for r in ScoreChange.objects.filter(member=bob))

    response = run(api.post, path="/api/v1/me/delete/", data={"password": PASSWORD, "confirm": True}, format="json")
    assert response.status_code == 200
    assert response.json()["username"] == f"deleted-{alice.pk}"
    alice.refresh_from_db()
    assert (alice.username, alice.email, alice.phone, alice.city, alice.bio, alice.is_active) == (
        f"deleted-{alice.pk}", "", "", "", "", False)
    assert not alice.has_usable_password()
    assert AuthToken.objects.filter(user=alice).count() == 0
    assert api.get("/api/v1/me/").status_code == 401
    # Out of the graph: the friendship ended, bob's contagion from alice reversed exactly.
    assert Friendship.objects.active().of_member(alice.pk).count() == 0
    assert not ContagionEdge.objects.filter(member_a=alice).exists()
    assert not ContagionEdge.objects.filter(member_b=alice).exists()
    assert not any(r.explanation.startswith("alice: ") for r in ScoreChange.objects.filter(member=bob))
    # Events kept, anonymised.
    events = Event.objects.filter(member=alice)
    assert events.count() == 6
    assert all(e.external_id.startswith("deleted:") and e.merchant_category == "" for e in events)
    assert_rebuild_clean()


def test_deleting_from_the_web(world, member_client, run):
    page = member_client.get("/settings/delete/").content.decode()
    assert "What is kept, and why" in page and "record-keeping" in page
    refused = member_client.post("/settings/delete/", {"password": "nope", "confirm": "on"})
    assert refused.status_code == 200 and b"Wrong password." in refused.content
    done = run(member_client.post, path="/settings/delete/", data={"password": PASSWORD, "confirm": "on"})
    assert done.status_code == 200 and b"Your account is deleted" in done.content
    assert User.objects.get(pk=world.alice.pk).is_active is False
    assert member_client.get("/dashboard/").status_code == 302  # logged out
