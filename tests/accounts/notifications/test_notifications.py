"""The notification feed: who is told what (exact texts, nobody else), mutes, read/unread, the
API, the page, the bell, the live push, and the move of moderation notices into the feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications import feed as notifications
from accounts.notifications.models import Notification, NotificationMute
from accounts.privacy import services as privacy
from config.context_processors import notifications as bell_context
from leaderboards.boards import services as lb_services
from scoring.moderation import services as moderation
from social.graph import services as social
from social.invitations import services as invitations_services
from tests.factories import PASSWORD, UserFactory
from tests.leaderboards.conftest import befriend, member, scored
from tests.leaderboards.sockets.test_consumers import connect

pytestmark = pytest.mark.django_db


#: The kinds these tests follow (badges, challenges and perks are told about by their own apps,
#: e.g. "First friend" when a friendship starts, and tested there).
KINDS = ("friend_request", "invitation", "passed", "account", "event", "dispute", "flag")


def feed(user: User) -> list[tuple[str, str, str]]:
    """The member's feed of ``KINDS``, oldest first: (kind, text, link)."""
    return list(Notification.objects.filter(member=user, kind__in=KINDS).order_by("created_at", "id")
                .values_list("kind", "text", "link"))


@pytest.fixture
def run(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    def call(fn, /, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


# --- who is told what ----------------------------------------------------------------------------


def test_a_friend_request_tells_only_the_recipient_and_accepting_tells_only_the_sender(alice, bob, mallory, run):
    sent = run(social.friend_request_send, from_user=bob, to_username="alice")
    assert feed(alice) == [("friend_request", "bob sent you a friend request.", "/friends/")]
    assert feed(bob) == [] and feed(mallory) == []
    # Sending again is the same request: nobody is told twice.
    run(social.friend_request_send, from_user=bob, to_username="alice")
    assert len(feed(alice)) == 1

    run(social.friend_request_accept, request=sent.request, by=alice)
    assert feed(bob) == [("friend_request", "alice accepted your friend request: you are now friends.", "/friends/")]
    assert len(feed(alice)) == 1 and feed(mallory) == []


def test_crossing_requests_tell_the_first_asker_they_are_friends_now(alice, bob, run):
    run(social.friend_request_send, from_user=alice, to_username="bob")
    crossed = run(social.friend_request_send, from_user=bob, to_username="alice")
    assert crossed.friendship is not None
    assert feed(bob) == [("friend_request", "alice sent you a friend request.", "/friends/")]
    assert feed(alice) == [("friend_request", "bob accepted your friend request: you are now friends.", "/friends/")]


def test_declining_is_silent_and_a_blocked_members_request_never_reaches(alice, bob, mallory, run):
    sent = run(social.friend_request_send, from_user=bob, to_username="alice")
    run(social.friend_request_decline, request=sent.request, by=alice)
    assert feed(bob) == []
    run(social.block_create, blocker=alice, username="mallory")
    run(social.friend_request_send, from_user=mallory, to_username="alice")
    assert [kind for kind, _, _ in feed(alice)] == ["friend_request"]  # bob's only
    assert feed(mallory) == []


def test_an_accepted_invitation_tells_only_the_inviter(alice, carol, mallory, run):
    created = run(invitations_services.invitation_create, inviter=alice,
                  url_for=lambda token: f"/friends/invite/{token}/")
    run(invitations_services.invitation_accept, token=created.token, user=carol)
    assert feed(alice) == [("invitation", "carol accepted your invitation: you are now friends.", "/friends/")]
    assert feed(carol) == [] and feed(mallory) == []
    # Accepting again (a double click) returns the same friendship and tells nobody again.
    run(invitations_services.invitation_accept, token=created.token, user=carol)
    assert len(feed(alice)) == 1


# --- passed on the friends board -----------------------------------------------------------------


@pytest.fixture
def board():  # type: ignore[no-untyped-def]
    """bob (690) rises past friends: alice (705) and carol (700) are his friends, dana (700) is
    his friend in private mode, erin (700) his frozen friend, mallory (700) a stranger, and
    fay (720) a friend he will not reach."""
    people = {
        "bob": member("bob", 690), "alice": member("alice", 705), "carol": member("carol", 700),
        "dana": member("dana", 700), "erin": member("erin", 700), "mallory": member("mallory", 700),
        "fay": member("fay", 720),
    }
    for name in ("alice", "carol", "dana", "erin", "fay"):
        befriend(people["bob"], people[name])
    User.objects.filter(username="dana").update(private_mode=True)
    User.objects.filter(username="erin").update(is_frozen=True)
    return people


def passed(user: User) -> list[str]:
    return [text for kind, text, _ in feed(user) if kind == "passed"]


def test_rising_past_friends_tells_each_friend_passed_and_nobody_else(board):
    scored(board["bob"], 712)
    assert passed(board["alice"]) == ["bob passed you on your friends board (712 vs your 705)"]
    assert passed(board["carol"]) == ["bob passed you on your friends board (712 vs your 700)"]
    for name in ("bob", "dana", "erin", "mallory", "fay"):
        assert passed(board[name]) == [], name
    assert Notification.objects.get(member=board["alice"]).link == "/leaderboard/?board=friends"


def test_a_member_in_private_mode_passes_nobody(board):
    User.objects.filter(username="bob").update(private_mode=True)
    scored(board["bob"], 712)
    assert not Notification.objects.filter(kind="passed").exists()


def test_a_pair_is_told_at_most_once_an_hour(board):
    scored(board["bob"], 712)
    scored(board["bob"], 690)  # falls back below: nobody is told anything
    scored(board["bob"], 712)  # passes alice again within the hour
    assert len(passed(board["alice"])) == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        scored(board["bob"], 690)
        scored(board["bob"], 713)
    assert passed(board["alice"]) == ["bob passed you on your friends board (712 vs your 705)",
                                      "bob passed you on your friends board (713 vs your 705)"]


def test_passing_costs_one_query_per_score_change(board):
    """The leaderboards' per-change handler is hot: a rise costs exactly ONE query more than a
    fall (which looks for nobody), whatever the number of friends."""
    bob = board["bob"]

    def queries(old: int, new: int) -> int:
        User.objects.filter(pk=bob.pk).update(score=new)
        with CaptureQueriesContext(connection) as ctx:
            lb_services.members_scores_changed(changes=[{"member_id": bob.pk, "old_score": old, "new_score": new,
                                                         "cause": "event"}])
        return len(ctx.captured_queries)

    falling = queries(690, 680)
    rising_past_nobody = queries(680, 689)  # 689 < every friend's score
    assert rising_past_nobody == falling + 1


# --- mutes ---------------------------------------------------------------------------------------


def test_a_muted_kind_is_not_written_and_decisions_cannot_be_muted(alice, bob, run):
    notifications.notification_mutes_set(member_id=alice.pk, kinds=["friend_request", "flag"])
    run(social.friend_request_send, from_user=bob, to_username="alice")
    assert feed(alice) == []
    # A flag review is a courtesy: muted, neither the feed nor an email.
    assert run(moderation.notify, member=alice, kind="flag", text="Thank you", subject="reviewed") is None
    assert mail.outbox == []
    # A moderator's decision about the account reaches the member even if a mute row exists.
    NotificationMute.objects.create(member=alice, kind="account")
    run(moderation.notify, member=alice, kind="account", text="A moderator froze your account.", subject="frozen")
    assert feed(alice) == [("account", "A moderator froze your account.", "")]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    with pytest.raises(ValueError):
        notifications.notification_mutes_set(member_id=alice.pk, kinds=["dispute"])


def test_a_dispute_decision_links_to_the_events_page(alice, run):
    run(moderation.notify, member=alice, kind="dispute", text="Your dispute of “x” was rejected: the event still "
        "counts. Why: y", subject="your dispute was answered")
    assert feed(alice) == [("dispute", "Your dispute of “x” was rejected: the event still counts. Why: y",
                            "/score/events/")]


# --- the API -------------------------------------------------------------------------------------


def make(member_id: int, n: int, *, read: bool = False, ago: int = 0) -> list[Notification]:
    """``n`` badge notifications "badge 0" … (oldest first), the newest ``ago + 1`` minutes old."""
    now = timezone.now()
    return [Notification.objects.create(member_id=member_id, kind="badge", text=f"badge {i}",
                                        created_at=now - timedelta(minutes=ago + n - i),
                                        read_at=now if read else None) for i in range(n)]


def test_the_feed_pages_with_a_cursor_and_counts_unread(alice, bob, api_as):
    make(alice.pk, 3, read=True, ago=10)
    make(alice.pk, 2)  # newest: "badge 1", then "badge 0", then the read "badge 2", "badge 1", "badge 0"
    make(bob.pk, 4)
    client = api_as(alice)
    first = client.get("/api/v1/me/notifications/?limit=2").json()
    assert [r["text"] for r in first["results"]] == ["badge 1", "badge 0"]
    assert (first["unread"], first["results"][0]["read"], first["results"][0]["kind"]) == (2, False, "badge")
    second = client.get(f"/api/v1/me/notifications/?limit=2&cursor={first['next']}").json()
    assert [r["text"] for r in second["results"]] == ["badge 2", "badge 1"]
    third = client.get(f"/api/v1/me/notifications/?limit=2&cursor={second['next']}").json()
    assert ([r["text"] for r in third["results"]], third["next"]) == (["badge 0"], None)
    unread = client.get("/api/v1/me/notifications/?unread=1").json()
    assert [r["text"] for r in unread["results"]] == ["badge 1", "badge 0"]
    bad = client.get("/api/v1/me/notifications/?cursor=nonsense")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")
    assert client.get("/api/v1/me/notifications/?limit=0").status_code == 400


def test_marking_read_touches_only_my_notifications(alice, bob, api_as):
    mine = make(alice.pk, 3)
    theirs = make(bob.pk, 2)
    client = api_as(alice)
    some = client.post("/api/v1/me/notifications/read/", {"ids": [mine[0].pk, theirs[0].pk]}, format="json")
    assert some.json() == {"read": 1, "unread": 2}
    assert Notification.objects.filter(member=bob, read_at__isnull=True).count() == 2
    everything = client.post("/api/v1/me/notifications/read/", {}, format="json")
    assert everything.json() == {"read": 2, "unread": 0}
    assert Notification.objects.filter(member=bob, read_at__isnull=True).count() == 2
    typo = client.post("/api/v1/me/notifications/read/", {"id": [1]}, format="json")
    assert (typo.status_code, typo.json()["code"]) == (400, "unknown_field")


def test_mutes_over_the_api(alice, api_as, api):
    client = api_as(alice)
    assert client.get("/api/v1/me/notifications/mutes/").json() == {
        "muted": [], "mutable": ["badge", "friend_request", "invitation", "passed", "challenge", "perk", "flag"]}
    saved = client.put("/api/v1/me/notifications/mutes/", {"muted": ["passed", "badge", "passed"]}, format="json")
    assert saved.json()["muted"] == ["badge", "passed"]
    unknown = client.put("/api/v1/me/notifications/mutes/", {"muted": ["passed", "gossip"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {"code": "unknown_kind", "detail": "muted: Unknown kind: gossip.",
                              "fields": {"muted": ["Unknown kind: gossip."]}}
    fixed = client.put("/api/v1/me/notifications/mutes/", {"muted": ["account"]}, format="json")
    assert (fixed.status_code, fixed.json()["code"], list(fixed.json()["fields"])) == (400, "not_mutable", ["muted"])
    assert client.put("/api/v1/me/notifications/mutes/", {"muted": []}, format="json").json()["muted"] == []
    assert api.get("/api/v1/me/notifications/").status_code == 401


def test_the_old_notices_endpoints_still_answer_with_moderation_notifications(alice, api_as):
    make(alice.pk, 1)
    decision = Notification.objects.create(member=alice, kind="dispute", text="Your dispute was accepted.")
    client = api_as(alice)
    results = client.get("/api/v1/me/notices/").json()["results"]
    assert [(r["id"], r["kind"], r["text"], r["read"]) for r in results] == [
        (decision.pk, "dispute", "Your dispute was accepted.", False)]
    assert client.post("/api/v1/me/notices/read/").json() == {"read": 1}
    assert notifications.unread_count(member_id=alice.pk) == 1  # the badge is still unread


# --- the page and the bell -----------------------------------------------------------------------


def test_the_page_shows_the_feed_and_marks_all_read(alice, bob):
    make(bob.pk, 1)
    make(alice.pk, 1, read=True)
    link = Notification.objects.create(member=alice, kind="friend_request", text="bob sent you a friend request.",
                                       link="/friends/")
    client = Client()
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert '<a href="/friends/">bob sent you a friend request.</a>' in page
    assert page.count('class="feed-item unread"') == 1 and page.count('class="feed-item"') == 1
    assert 'data-bell data-unread="1"' in page and "Mark all as read" in page
    assert "badge 0" in page and page.count("badge 0") == 1  # bob's is not shown
    assert client.post("/notifications/read-all/").status_code == 302
    assert not Notification.objects.filter(pk=link.pk, read_at__isnull=True).exists()
    assert Notification.objects.filter(member=bob, read_at__isnull=True).count() == 1
    assert 'data-bell data-unread="0"' in client.get("/dashboard/").content.decode()


def test_the_mute_form_saves_and_shows_errors_as_form_errors(alice):
    client = Client()
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert 'value="passed"' in page and "Passed on a board" in page and 'value="account"' not in page
    assert client.post("/notifications/", {"muted": ["passed", "challenge"]}).status_code == 302
    assert notifications.muted_kinds(member_id=alice.pk) == ["challenge", "passed"]
    refused = client.post("/notifications/", {"muted": ["dispute"]})
    assert refused.status_code == 200
    assert "Select a valid choice. dispute is not one of the available choices." in refused.content.decode()
    assert notifications.muted_kinds(member_id=alice.pk) == ["challenge", "passed"]


def test_the_bell_costs_one_query_and_none_for_visitors(alice, django_assert_num_queries):
    make(alice.pk, 2)
    request = RequestFactory().get("/")
    request.user = alice
    with django_assert_num_queries(1):
        assert bell_context(request) == {"unread_notifications": 2}
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert bell_context(request) == {}


# --- the member's data ---------------------------------------------------------------------------


def test_the_export_includes_my_notifications_and_deletion_removes_them(alice, bob, run):
    read = Notification.objects.create(member=alice, kind="passed", text="bob passed you", link="/leaderboard/",
                                       read_at=timezone.now())
    Notification.objects.create(member=bob, kind="badge", text="bob's badge")
    NotificationMute.objects.create(member=alice, kind="badge")
    exported = privacy.member_data(member=alice)["notifications"]
    assert exported == [{"at": read.created_at, "kind": "passed", "text": "bob passed you", "link": "/leaderboard/",
                         "read_at": read.read_at}]
    run(privacy.member_delete, member=alice, password=PASSWORD)
    assert not Notification.objects.filter(member=alice).exists()
    assert not NotificationMute.objects.filter(member=alice).exists()
    assert Notification.objects.filter(member=bob).count() == 1


# --- live ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_alices_socket_hears_bobs_request_and_mallorys_hears_nothing(settings):
    def cast() -> dict[str, Any]:
        return {name: UserFactory(username=name) for name in ("alice", "bob", "mallory")}

    people = await database_sync_to_async(cast)()
    alice = await connect(people["alice"])
    mallory = await connect(people["mallory"])
    try:
        await database_sync_to_async(social.friend_request_send)(from_user=people["bob"], to_username="alice")
        message = await alice.receive_json_from(timeout=3)
        row = await database_sync_to_async(Notification.objects.get)(member=people["alice"])
        assert message == {"type": "notification", "id": row.pk, "kind": "friend_request",
                           "text": "bob sent you a friend request.", "link": "/friends/",
                           "created_at": row.created_at.isoformat(), "unread_count": 1}
        assert await mallory.receive_nothing(timeout=0.5)
        assert await alice.receive_nothing(timeout=0.2)
    finally:
        await alice.disconnect()
        await mallory.disconnect()
        await get_channel_layer().flush()


# --- the move of moderation notices into the feed (scoring 0004) ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_notices_into_the_feed_and_back():
    before = [("scoring", "0003_moderation"), ("accounts", "0005_gamification")]
    after = [("scoring", "0004_notice_to_notification")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        member = old.get_model("accounts", "User").objects.create(username="alice", email="a@example.com")
        Notice = old.get_model("scoring", "Notice")
        at = timezone.now() - timedelta(days=2)
        Notice.objects.create(member_id=member.pk, kind="dispute", text="Your dispute was accepted.", created_at=at,
                              read_at=at)
        Notice.objects.create(member_id=member.pk, kind="account", text="A moderator froze your account.")

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        rows = list(new.get_model("accounts", "Notification").objects.order_by("created_at").values_list(
            "member_id", "kind", "text", "link", "created_at", "read_at"))
        assert rows[0] == (member.pk, "dispute", "Your dispute was accepted.", "/score/events/", at, at)
        assert rows[1][:4] == (member.pk, "account", "A moderator froze your account.", "")
        assert rows[1][5] is None and len(rows) == 2
        new.get_model("accounts", "Notification").objects.create(member_id=member.pk, kind="badge", text="New badge")

        executor = MigrationExecutor(connection)
        executor.migrate(before)  # back: the moderation kinds return to Notice, the badge stays
        back = executor.loader.project_state(before).apps
        assert sorted(back.get_model("scoring", "Notice").objects.values_list("kind", flat=True)) == [
            "account", "dispute"]
        assert list(back.get_model("accounts", "Notification").objects.values_list("kind", flat=True)) == ["badge"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
