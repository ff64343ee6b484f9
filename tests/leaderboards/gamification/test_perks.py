"""Perks by band: the catalogue, gained and lost with the score, why, admin changes, the API."""

from __future__ import annotations

import importlib
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from leaderboards.gamification import perks
from leaderboards.gamification.models import Perk, PerkGrant
from scoring.ledger.models import ScoreState
from scoring.model import FACTOR_NAMES
from scoring.moderation import services
from tests.factories import UserFactory
from tests.leaderboards.conftest import scored

pytestmark = pytest.mark.django_db

EXAMPLES = [("deposit-free-rental", "Deposit-free rental", 650), ("priority-support", "Priority support", 700),
            ("travel-fast-track", "Travel fast-track", 750)]


@pytest.fixture(autouse=True)
def catalogue() -> None:
    """The product examples, as the data migration seeds them (a flushing transactional test
    elsewhere may have removed the migration's rows from a reused test database)."""
    importlib.import_module("leaderboards.migrations.0003_perk_examples").add_examples(django_apps, None)


@pytest.fixture
def pushes(monkeypatch) -> list[tuple[int, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    sent: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(perks, "member_push", lambda *, member_id, payload: sent.append((member_id, payload)))
    return sent


@pytest.fixture
def move(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """``move(user, score)``: the pipeline's score change, its after-commit work run."""
    def run(user: User, score: int) -> User:
        with django_capture_on_commit_callbacks(execute=True):
            return scored(user, score)
    return run


def texts(user: User) -> list[str]:
    return list(Notification.objects.filter(member=user, kind=Notification.Kind.PERK)
                .order_by("created_at", "id").values_list("text", flat=True))


def held(user: User) -> list[str]:
    return sorted(PerkGrant.objects.filter(member=user, revoked_at__isnull=True).values_list("perk__slug", flat=True))


def test_the_migration_seeds_the_product_examples_and_reverses():
    assert Perk.objects.count() == 3
    assert list(Perk.objects.order_by("min_score").values_list("slug", "name", "min_score")) == EXAMPLES
    assert all(Perk.objects.values_list("is_active", flat=True))
    migration = importlib.import_module("leaderboards.migrations.0003_perk_examples")
    migration.remove_examples(django_apps, None)
    assert not Perk.objects.exists()
    migration.add_examples(django_apps, None)
    migration.add_examples(django_apps, None)  # idempotent
    assert list(Perk.objects.order_by("min_score").values_list("slug", "name", "min_score")) == EXAMPLES


def test_gained_at_650_and_lost_below_it_with_why(alice, move, pushes):
    move(alice, 640)
    assert held(alice) == [] and texts(alice) == [] and pushes == []
    move(alice, 655)
    assert held(alice) == ["deposit-free-rental"]
    assert texts(alice) == ["You unlocked Deposit-free rental: your score 655 is at or above 650."]
    assert pushes == [(alice.pk, {"type": "me.changed", "what": ["perks"]})]
    move(alice, 642)
    assert held(alice) == []
    loss = "Your score fell to 642, below 650: Deposit-free rental is paused until you are back at 650"
    assert texts(alice)[-1] == loss
    grant = PerkGrant.objects.get(member=alice)
    assert grant.revoked_at is not None and grant.revoke_reason == loss
    assert len(pushes) == 2
    # Back at 650 exactly: a new grant, the old one stays closed (history).
    move(alice, 650)
    assert held(alice) == ["deposit-free-rental"] and PerkGrant.objects.filter(member=alice).count() == 2


def test_a_big_move_crosses_several_thresholds(alice, move, pushes):
    move(alice, 760)
    assert held(alice) == ["deposit-free-rental", "priority-support", "travel-fast-track"]
    assert texts(alice) == [f"You unlocked {name}: your score 760 is at or above {at}." for _, name, at in EXAMPLES]
    assert len(pushes) == 1  # one push per sync
    move(alice, 705)
    assert held(alice) == ["deposit-free-rental", "priority-support"]
    assert texts(alice)[-1] == ("Your score fell to 705, below 750: Travel fast-track is paused until you are "
                                "back at 750")


def test_moves_that_cross_no_threshold_do_not_sync(alice, move, monkeypatch):
    move(alice, 655)
    calls: list[int] = []
    monkeypatch.setattr(perks, "perks_sync", lambda **kw: calls.append(kw["member_id"]))
    for score in (660, 699, 651, 650):
        move(alice, score)
    assert calls == []
    move(alice, 700)
    assert calls == [alice.pk]


@pytest.mark.parametrize(("old", "new", "crosses"), [
    (None, 649, False), (None, 650, True), (649, 650, True), (650, 649, True), (650, 699, False),
    (640, 760, True), (700, 700, False), (749, 751, True), (760, 800, False),
])
def test_crosses_threshold(old, new, crosses):
    assert perks.crosses_threshold(old, new, (650, 700, 750)) is crosses


def test_thresholds_are_cached_in_one_small_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert perks.perk_thresholds() == (650, 700, 750)
        assert perks.perk_thresholds() == (650, 700, 750)


def test_sync_is_idempotent(alice, pushes):
    User.objects.filter(pk=alice.pk).update(score=720)
    first = perks.perks_sync(member_id=alice.pk)
    second = perks.perks_sync(member_id=alice.pk)
    assert (first.gained, first.lost) == (("deposit-free-rental", "priority-support"), ())
    assert not second.changed and len(texts(alice)) == 2 and len(pushes) == 1


def test_a_muted_member_gets_the_perk_but_no_notification(alice, move):
    NotificationMute.objects.create(member=alice, kind=Notification.Kind.PERK)
    move(alice, 700)
    move(alice, 690)
    assert held(alice) == ["deposit-free-rental"]
    assert not Notification.objects.filter(member=alice, kind=Notification.Kind.PERK).exists()


def test_only_the_member_is_notified(alice, bob, move):
    move(bob, 600)
    move(alice, 700)
    assert texts(bob) == [] and len(texts(alice)) == 2


def test_a_frozen_account_holds_no_perks_until_unfrozen(alice, move, django_capture_on_commit_callbacks):
    move(alice, 710)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_freeze(member_id=alice.pk, by=root, reason="suspicious invitations")
    assert held(alice) == []
    assert texts(alice)[-2:] == [
        "Your account is frozen: Deposit-free rental is paused until it is unfrozen",
        "Your account is frozen: Priority support is paused until it is unfrozen"]
    alice.refresh_from_db()
    view = perks.member_perks(member=alice)
    assert view.frozen and [p["status"] for p in view.all] == ["paused", "paused", "locked"]
    with django_capture_on_commit_callbacks(execute=True):
        services.member_unfreeze(member_id=alice.pk, by=root, reason="cleared")
    assert held(alice) == ["deposit-free-rental", "priority-support"]


def test_a_member_without_a_score_holds_nothing(alice):
    assert not perks.perks_sync(member_id=alice.pk).changed
    view = perks.member_perks(member=alice)
    assert view.held == [] and view.next is not None and view.next["min_score"] == 650
    assert view.next["points_away"] is None
    assert view.all[0]["why"] == "Unlocks at 650. Your first score is on its way."


def test_what_i_have_what_is_next_and_why(alice, move):
    move(alice, 688)
    alice.refresh_from_db()
    grant = PerkGrant.objects.get(member=alice)
    view = perks.member_perks(member=alice)
    assert [p["slug"] for p in view.held] == ["deposit-free-rental"]
    assert view.next == {"min_score": 700, "band": "Excellent", "points_away": 12, "perks": [
        {"slug": "priority-support", "name": "Priority support", "description": Perk.objects.get(
            slug="priority-support").description, "provider": "", "min_score": 700, "band": "Excellent"}]}
    assert [(p["slug"], p["status"]) for p in view.all] == [
        ("deposit-free-rental", "held"), ("priority-support", "locked"), ("travel-fast-track", "locked")]
    day = f"{grant.granted_at.astimezone(ZoneInfo(alice.timezone)):%-d %b %Y}"  # her date, her zone
    assert [p["why"] for p in view.all] == [
        f"Yours since {day}: your score 688 is at or above 650.",
        "Unlocks at 700 (Excellent): 12 points to go.",
        "Unlocks at 750 (Excellent): 62 points to go."]
    move(alice, 649)
    alice.refresh_from_db()
    view = perks.member_perks(member=alice)
    assert view.held == [] and view.next["points_away"] == 1
    assert [p["why"] for p in view.lost] == [
        "Your score fell to 649, below 650: Deposit-free rental is paused until you are back at 650"]


def test_reading_perks_never_writes(alice, move, django_assert_num_queries):
    move(alice, 700)
    alice.refresh_from_db()
    rows = PerkGrant.objects.count(), Notification.objects.count()
    with django_assert_num_queries(3):
        perks.member_perks(member=alice)
    assert (PerkGrant.objects.count(), Notification.objects.count()) == rows


# --- the admin: add, edit, deactivate; holders follow -----------------------------------------------


@pytest.fixture
def admin_client_root(client):  # type: ignore[no-untyped-def]
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


def test_admin_deactivating_a_perk_ends_it_for_its_holders(admin_client_root, alice, bob, move,
                                                          django_capture_on_commit_callbacks):
    move(alice, 710)
    move(bob, 640)
    perk = Perk.objects.get(slug="priority-support")
    url = reverse("admin:leaderboards_perk_changelist")
    assert admin_client_root.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_root.post(url, {"action": "deactivate", "_selected_action": [perk.pk]})
    assert response.status_code == 302
    perk.refresh_from_db()
    assert not perk.is_active
    assert held(alice) == ["deposit-free-rental"]
    assert texts(alice)[-1] == "Priority support is no longer offered, so it has ended for you"
    assert texts(bob) == []
    assert perks.perk_thresholds() == (650, 750)  # the cache was dropped
    # Reactivated: members at its score get it back.
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_root.post(url, {"action": "activate", "_selected_action": [perk.pk]})
    assert held(alice) == ["deposit-free-rental", "priority-support"]


def test_admin_adds_a_perk_and_raises_a_threshold(admin_client_root, alice, bob, move,
                                                 django_capture_on_commit_callbacks):
    move(alice, 660)
    move(bob, 610)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_root.post(reverse("admin:leaderboards_perk_add"), {
            "name": "Lower card fees", "slug": "lower-card-fees", "description": "Half the usual card fees.",
            "provider": "Acme Bank", "min_score": "600", "is_active": "on"})
    assert response.status_code == 302, response.content
    assert held(alice) == ["deposit-free-rental", "lower-card-fees"] and held(bob) == ["lower-card-fees"]
    assert texts(bob) == ["You unlocked Lower card fees: your score 610 is at or above 600."]
    perk = Perk.objects.get(slug="deposit-free-rental")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_root.post(reverse("admin:leaderboards_perk_change", args=[perk.pk]), {
            "name": perk.name, "slug": perk.slug, "description": perk.description, "provider": "",
            "min_score": "680", "is_active": "on"})
    assert held(alice) == ["lower-card-fees"]
    assert texts(alice)[-1] == ("Deposit-free rental now needs a score of 680 and yours is 660: "
                                "it is paused until you reach 680")


def test_admin_cannot_delete_perks(admin_client_root):
    perk = Perk.objects.first()
    assert admin_client_root.get(reverse("admin:leaderboards_perk_delete", args=[perk.pk])).status_code == 403


# --- pages and API ----------------------------------------------------------------------------------


def test_api_my_perks(api_as, alice, mallory, move):
    move(alice, 705)
    body = api_as(alice).get("/api/v1/me/perks/").json()
    assert body["score"] == 705 and [p["slug"] for p in body["held"]] == ["deposit-free-rental", "priority-support"]
    assert body["next"]["min_score"] == 750 and body["next"]["points_away"] == 45
    assert [p["status"] for p in body["all"]] == ["held", "held", "locked"]
    theirs = api_as(mallory).get("/api/v1/me/perks/").json()
    assert theirs["held"] == [] and theirs["score"] is None


def test_api_anonymous_gets_401(api):
    response = api.get("/api/v1/me/perks/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_perks_page_and_dashboard_cards(client, alice, move):
    move(alice, 655)
    ScoreState.objects.filter(member=alice).update(factors=dict.fromkeys(FACTOR_NAMES, 0.5))  # the panel explains them
    client.force_login(alice)
    page = client.get(reverse("perks")).content.decode()
    assert "Deposit-free rental" in page and "45 points to go." in page
    assert 'href="/perks/"' in client.get("/friends/").content.decode()  # in the navigation
    client.logout()
    assert client.get(reverse("perks")).status_code == 302


def test_dashboard_cards(client, alice, move):
    move(alice, 655)
    ScoreState.objects.filter(member=alice).update(factors=dict.fromkeys(FACTOR_NAMES, 0.5))  # the panel explains them
    client.force_login(alice)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'id="perks-card"' in dashboard and 'id="streak-card"' in dashboard and 'id="progress-card"' in dashboard
    assert "Next at <strong>700</strong> (45 points away)" in dashboard
