from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client

from social.graph import services
from social.graph.models import Block, FriendRequest, Friendship
from social.invitations import services as invitations_services
from social.invitations.models import Invitation
from tests.social.conftest import befriend

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def as_alice(client, world):  # type: ignore[no-untyped-def]
    client.force_login(world.alice)
    return client


def test_friends_page_needs_login_and_is_in_the_nav(client, alice):
    response = client.get("/friends/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    client.force_login(alice)
    dashboard = client.get("/dashboard/")
    assert b'<a href="/friends/"' in dashboard.content


def test_friends_page_shows_friends_scores_vesting_and_suggestions(client, alice, bob, carol):
    with time_machine.travel(T0, tick=False):
        befriend(alice, bob)
        befriend(bob, carol)
    bob.score, bob.score_band = 655, "Very good"
    bob.save()
    client.force_login(alice)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        page = client.get("/friends/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>bob</strong>" in html
    assert '655<br><span class="badge band-very-good">Very good</span>' in html
    assert 'counts from <time datetime="2026-03-09T09:00:00+00:00">9 Mar 2026, 09:00</time> UTC' in html
    assert "1 mutual friend" in html and "<strong>carol</strong>" in html
    client.force_login(carol)
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        html = client.get("/friends/").content.decode()
    assert "not scored yet" not in html.split("<strong>bob</strong>")[1].split("</tr>")[0]
    assert "counts toward scores" in html


def test_unscored_friend_shows_not_scored_yet(as_alice):
    assert b"not scored yet" in as_alice.get("/friends/").content


def test_send_accept_decline_cancel_from_the_page(client, world):
    client.force_login(world.mallory)
    response = client.post("/friends/requests/", {"username": "alice"}, follow=True)
    assert messages_of(response) == ["Friend request sent to alice."]
    assert b"pending" in response.content
    request = FriendRequest.objects.get(from_user=world.mallory, status="pending")
    client.force_login(world.alice)
    page = client.get("/friends/")
    assert f'action="/friends/requests/{request.pk}/accept/"'.encode() in page.content
    response = client.post(f"/friends/requests/{request.pk}/decline/", follow=True)
    assert messages_of(response) == ["Request from mallory declined."]
    client.force_login(world.carol)
    sent = client.post("/friends/requests/", {"username": "alice"})
    assert sent.status_code == 302 and sent.url == "/friends/"
    client.get("/friends/")  # POST-redirect-GET: the message shows once
    carol_request = FriendRequest.objects.get(from_user=world.carol, status="pending")
    response = client.post(f"/friends/requests/{carol_request.pk}/cancel/", follow=True)
    assert messages_of(response) == ["Request to alice cancelled."]
    client.post("/friends/requests/", {"username": "alice"}, follow=True)
    carol_request = FriendRequest.objects.get(from_user=world.carol, status="pending")
    client.force_login(world.alice)
    response = client.post(f"/friends/requests/{carol_request.pk}/accept/", follow=True)
    assert messages_of(response) == ["You and carol are now friends."]
    assert Friendship.objects.active().between(world.alice.pk, world.carol.pk).exists()


def test_page_errors_are_messages(as_alice, world):
    for username, message in [("alice", "You cannot be your own friend."),
                              ("bob", "You are already friends."), ("ghost", "Not found.")]:
        response = as_alice.post("/friends/requests/", {"username": username}, follow=True)
        assert messages_of(response) == [message]
    response = as_alice.post("/friends/requests/999999/accept/", follow=True)
    assert messages_of(response) == ["Not found."]
    response = as_alice.post("/friends/unfriend/", {"username": "mallory"}, follow=True)
    assert messages_of(response) == ["Not found."]


def test_unfriend_block_unblock(as_alice, world):
    response = as_alice.post("/friends/unfriend/", {"username": "bob"}, follow=True)
    assert messages_of(response) == ["You and bob are no longer friends."]
    befriend(world.alice, world.bob)
    response = as_alice.post("/friends/blocks/", {"username": "bob"}, follow=True)
    assert messages_of(response) == ["You blocked bob. They are not told."]
    assert not Friendship.objects.active().between(world.alice.pk, world.bob.pk).exists()
    assert b'action="/friends/blocks/remove/"' in response.content
    response = as_alice.post("/friends/blocks/remove/", {"username": "bob"}, follow=True)
    assert messages_of(response) == ["You unblocked bob."]
    assert Block.objects.count() == 0


def test_actions_are_post_only_and_csrf_protected(client, world):
    client.force_login(world.alice)
    assert client.get("/friends/blocks/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.alice)
    assert strict.post("/friends/blocks/", {"username": "bob"}).status_code == 403
    assert Block.objects.count() == 0


def test_invite_from_the_page_shows_a_copyable_link_once(as_alice, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_alice.post("/friends/invitations/", {"email": "dora@example.com"}, follow=True)
    assert messages_of(response) == ["Invitation emailed to dora@example.com."]
    html = response.content.decode()
    assert 'id="invite-link" value="http://testserver/friends/invite/' in html
    assert 'data-copy="#invite-link"' in html
    assert mail.outbox[0].to == ["dora@example.com"]
    link = html.split('id="invite-link" value="')[1].split('"')[0]
    assert link in mail.outbox[0].body
    assert Invitation.objects.get().status == "open"
    assert 'id="invite-link"' not in as_alice.get("/friends/").content.decode()  # shown once


def test_invite_caps_show_as_a_message(as_alice, world):
    for _ in range(20):
        invitations_services.invitation_create(inviter=world.alice, url_for=lambda t: t)
    response = as_alice.post("/friends/invitations/", {"email": ""}, follow=True)
    assert messages_of(response) == [
        "You already have 20 open invitations: wait until some are used or expire."
    ]
    response = as_alice.post("/friends/invitations/", {"email": "nope"}, follow=True)
    assert messages_of(response) == ["Enter a valid email address, or none."]


def test_blocked_member_cannot_see_the_blocker_anywhere(client, world):
    services.block_create(blocker=world.carol, username="mallory")
    befriend(world.mallory, world.bob)  # carol would be a friend of a friend
    client.force_login(world.mallory)
    response = client.post("/friends/requests/", {"username": "carol"}, follow=True)
    assert messages_of(response) == ["Friend request sent to carol."]  # as for anyone
    html = response.content.decode()
    assert "People you may know" in html
    assert "<strong>alice</strong>" in html  # via bob
    assert html.count("carol") == 2  # the message and the pending request, nothing else
    client.force_login(world.carol)
    assert b"mallory" not in client.get("/friends/").content.split(b"Blocked")[0]


# --- the page's order, search and paging; confirmations -----------------------------------------


def _friend_names(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.username for f in response.context["friends_page"]]


def test_requests_and_invitations_come_before_the_friend_list(as_alice):
    html = as_alice.get("/friends/").content.decode()
    order = [html.index(f'id="{section}"') for section in ("requests", "invite", "friends", "suggestions", "blocks")]
    assert order == sorted(order)


def test_a_new_invitation_link_shows_at_the_top(as_alice):
    response = as_alice.post("/friends/invitations/", {"email": ""}, follow=True)
    html = response.content.decode()
    assert html.index('id="invite-new"') < html.index('id="requests"')
    assert html.index('id="invite-link"') < html.index('id="requests"')


def test_the_friend_list_is_paged_and_searchable(client, alice, django_user_model):
    for n in range(23):
        befriend(alice, django_user_model.objects.create_user(username=f"pal{n:02d}", password="x" * 12))
    befriend(alice, django_user_model.objects.create_user(username="zed", password="x" * 12))
    client.force_login(alice)
    first = client.get("/friends/")
    assert first.context["friend_count"] == 24
    assert _friend_names(first) == [f"pal{n:02d}" for n in range(20)]
    assert 'href="?page=2#friends"' in first.content.decode()
    assert _friend_names(client.get("/friends/?page=2")) == ["pal20", "pal21", "pal22", "zed"]
    assert _friend_names(client.get("/friends/?page=99")) == ["pal20", "pal21", "pal22", "zed"]
    assert _friend_names(client.get("/friends/?q=ZE")) == ["zed"]
    found = client.get("/friends/?q=pal1")
    assert _friend_names(found) == [f"pal1{n}" for n in range(10)]
    assert "10 friends matching “pal1”" in found.content.decode()
    nothing = client.get("/friends/?q=nobody")
    assert _friend_names(nothing) == []
    assert "No friend matches “nobody”." in nothing.content.decode()


def test_unfriend_and_block_go_through_a_confirmation(as_alice, world):
    html = as_alice.get("/friends/").content.decode()
    assert 'action="/friends/unfriend/"' not in html  # no one-tap unfriend on the list
    assert 'href="/friends/confirm/?action=unfriend&amp;username=bob"' in html
    assert 'href="/friends/confirm/?action=block&amp;username=bob"' in html
    page = as_alice.get("/friends/confirm/", {"action": "unfriend", "username": "bob"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "<h1>Unfriend bob?</h1>" in body
    assert 'action="/friends/unfriend/"' in body and '<input type="hidden" name="username" value="bob">' in body
    assert Friendship.objects.active().between(world.alice.pk, world.bob.pk).exists()  # asking changes nothing
    block = as_alice.get("/friends/confirm/", {"action": "block", "username": "bob"}).content.decode()
    assert "<h1>Block bob?</h1>" in block and 'action="/friends/blocks/"' in block
    assert '<button type="submit" class="danger">Block</button>' in block
    assert Block.objects.count() == 0


def test_cancelling_a_request_is_confirmed_and_only_for_its_sender(client, world):
    services.friend_request_send(from_user=world.carol, to_username="mallory")
    request = FriendRequest.objects.get(from_user=world.carol)
    client.force_login(world.carol)
    html = client.get("/friends/").content.decode()
    assert f'href="/friends/confirm/?action=cancel&amp;request={request.pk}"' in html
    body = client.get("/friends/confirm/", {"action": "cancel", "request": request.pk}).content.decode()
    assert "<h1>Cancel your request to mallory?</h1>" in body
    assert f'action="/friends/requests/{request.pk}/cancel/"' in body
    client.force_login(world.alice)
    response = client.get("/friends/confirm/", {"action": "cancel", "request": request.pk}, follow=True)
    assert messages_of(response) == ["Not found."]
    response = client.get("/friends/confirm/", {"action": "cancel", "request": "x"}, follow=True)
    assert messages_of(response) == ["Not found."]
    assert FriendRequest.objects.get(pk=request.pk).status == "pending"


def test_a_confirmation_without_a_known_action_or_username_goes_back(as_alice):
    response = as_alice.get("/friends/confirm/", {"action": "explode", "username": "bob"})
    assert response.status_code == 302 and response.url == "/friends/"
    response = as_alice.get("/friends/confirm/", {"action": "block"}, follow=True)
    assert messages_of(response) == ["Enter a username."]


def test_the_block_form_asks_first(as_alice):
    html = as_alice.get("/friends/").content.decode()
    assert ('<form method="get" action="/friends/confirm/" class="form">'
            '<input type="hidden" name="action" value="block">') in html


def test_declining_a_request_asks_first(client, world):
    services.friend_request_send(from_user=world.mallory, to_username="alice")
    request = FriendRequest.objects.get(from_user=world.mallory)
    client.force_login(world.alice)
    html = client.get("/friends/").content.decode()
    assert ('<details class="confirm-inline"><summary class="button ghost">Decline…</summary>'
            f'<form method="post" action="/friends/requests/{request.pk}/decline/"') in html


def test_requests_each_way_and_blocks_are_paged(client, alice, django_user_model):
    """Each list keeps its own page: ten a page, newest request first, blocks by username."""
    for n in range(12):
        fan = django_user_model.objects.create_user(username=f"fan{n:02d}", password="x" * 12)
        with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n), tick=False):
            services.friend_request_send(from_user=fan, to_username="alice")
        django_user_model.objects.create_user(username=f"star{n:02d}", password="x" * 12)
        services.friend_request_send(from_user=alice, to_username=f"star{n:02d}")
        services.block_create(blocker=alice, username=django_user_model.objects.create_user(
            username=f"pest{n:02d}", password="x" * 12).username)
    client.force_login(alice)
    first = client.get("/friends/")
    assert [r.from_user.username for r in first.context["incoming"]] == [f"fan{n:02d}" for n in range(11, 1, -1)]
    assert len(first.context["outgoing"]) == 10
    assert [b.blocked.username for b in first.context["blocks"]] == [f"pest{n:02d}" for n in range(10)]
    page = first.content.decode()
    for param, anchor in (("incoming_page", "requests"), ("outgoing_page", "requests"), ("blocks_page", "blocks")):
        assert f'href="?{param}=2#{anchor}"' in page
    second = client.get("/friends/?incoming_page=2&blocks_page=2")
    assert [r.from_user.username for r in second.context["incoming"]] == ["fan01", "fan00"]
    assert [b.blocked.username for b in second.context["blocks"]] == ["pest10", "pest11"]
    assert len(second.context["outgoing"]) == 10  # its own page stays the first
    assert client.get("/friends/?incoming_page=x").status_code == 200  # a bad page number shows the first
