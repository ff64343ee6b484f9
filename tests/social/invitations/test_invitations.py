from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from accounts.members.models import User
from social.graph import services
from social.graph.models import Friendship
from social.invitations import services as invitations_services
from social.invitations.errors import InvitationCode
from social.invitations.limits import MAX_INVITATION_EMAILS_PER_DAY, MAX_OPEN_INVITATIONS
from social.invitations.models import Invitation
from tests.factories import PASSWORD
from tests.social.conftest import befriend

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INVITATIONS = "/api/v1/invitations/"


def create(api_as, user, **body):  # type: ignore[no-untyped-def]
    return api_as(user).post(INVITATIONS, body, format="json")


def accept_url(token: str) -> str:
    return f"{INVITATIONS}{token}/accept/"


# --- creating ------------------------------------------------------------------------------------


def test_create_shows_the_token_once_and_stores_only_its_hash(alice, api_as):
    with time_machine.travel(T0, tick=False):
        response = create(api_as, alice)
    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert body == {"id": body["id"], "token": token, "url": f"http://testserver/friends/invite/{token}/",
                    "expires_at": "2026-03-09T09:00:00Z", "email": ""}
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(getattr(invitation, f.attname)) for f in Invitation._meta.fields}
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        listed = api_as(alice).get(INVITATIONS).json()
    assert listed == [{"id": body["id"], "email": "", "created_at": "2026-03-02T09:00:00Z",
                       "expires_at": "2026-03-09T09:00:00Z", "status": "open", "used_by": None}]


def test_invitation_email_goes_out_after_commit_and_says_the_same_for_members(
    alice, bob, api_as, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        to_member = create(api_as, alice, email="bob@example.com")
        to_stranger = create(api_as, alice, email="nobody@example.com")
    assert to_member.status_code == to_stranger.status_code == 201
    assert set(to_member.json()) == set(to_stranger.json())
    assert [m.to for m in mail.outbox] == [["bob@example.com"], ["nobody@example.com"]]
    assert mail.outbox[0].subject == "alice invited you to Credo"
    assert to_member.json()["url"] in mail.outbox[0].body
    assert to_stranger.json()["url"] in mail.outbox[1].body


def test_no_email_before_commit(alice, api_as, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        create(api_as, alice, email="dora@example.com")
    assert mail.outbox == []
    assert len(callbacks) == 1


def test_open_invitations_are_capped(alice, api_as):
    with time_machine.travel(T0, tick=False):
        for _ in range(MAX_OPEN_INVITATIONS):
            assert create(api_as, alice).status_code == 201
        response = create(api_as, alice)
    assert response.status_code == 429
    assert response.json() == {
        "code": InvitationCode.RATE_LIMITED,
        "detail": "You already have 20 open invitations: wait until some are used or expire.",
    }
    assert Invitation.objects.count() == MAX_OPEN_INVITATIONS
    # Expired ones no longer count.
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        assert create(api_as, alice).status_code == 201


def test_invitation_emails_are_capped_per_day(alice, api_as):
    with time_machine.travel(T0, tick=False):
        for n in range(MAX_INVITATION_EMAILS_PER_DAY):
            assert create(api_as, alice, email=f"friend{n}@example.com").status_code == 201
        response = create(api_as, alice, email="one.more@example.com")
        assert (response.status_code, response.json()["code"]) == (429, InvitationCode.RATE_LIMITED)
        # A link without an email is still fine.
        assert create(api_as, alice).status_code == 201
    with time_machine.travel(T0 + timedelta(days=1, seconds=1), tick=False):
        assert create(api_as, alice, email="one.more@example.com").status_code == 201


def test_invalid_email_and_unknown_fields(alice, api_as):
    assert create(api_as, alice, email="not-an-email").json()["code"] == "invalid"
    assert create(api_as, alice, emails="a@example.com").json()["code"] == "unknown_field"


# --- accepting over the API ----------------------------------------------------------------------


def test_accept_makes_friends_once(alice, mallory, api_as, signals_log, django_capture_on_commit_callbacks):
    token = create(api_as, alice).json()["token"]
    with time_machine.travel(T0 + timedelta(days=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        response = api_as(mallory).post(accept_url(token))
    assert response.status_code == 200
    assert response.json() == {"friend": {
        "username": "alice", "score": None, "band": None, "since": "2026-03-03T09:00:00Z",
        "vests_at": "2026-03-10T09:00:00Z", "vested": False, "private": False,
    }}
    friendship = Friendship.objects.active().get()
    assert friendship.via == "invitation"
    assert [name for name, _ in signals_log] == ["started"]
    invitation = Invitation.objects.get()
    assert (invitation.used_by, invitation.used_at) == (mallory, T0 + timedelta(days=1))
    assert api_as(alice).get(INVITATIONS).json()[0]["used_by"] == "mallory"
    # Again, by the same member: the same answer, nothing new.
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert api_as(mallory).post(accept_url(token)).json() == response.json()
    assert Friendship.objects.count() == 1


def test_reused_token_is_gone(alice, bob, mallory, api_as):
    token = create(api_as, alice).json()["token"]
    assert api_as(mallory).post(accept_url(token)).status_code == 200
    response = api_as(bob).post(accept_url(token))
    assert response.status_code == 410
    assert response.json() == {"code": "invitation_gone",
                               "detail": "This invitation has expired or was already used."}


def test_expired_token_is_gone_at_the_boundary(alice, bob, mallory, api_as):
    with time_machine.travel(T0, tick=False):
        last_moment = create(api_as, alice).json()["token"]
        too_late = create(api_as, alice).json()["token"]
    with time_machine.travel(T0 + timedelta(days=7, microseconds=-1), tick=False):
        assert api_as(bob).post(accept_url(last_moment)).status_code == 200
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        response = api_as(mallory).post(accept_url(too_late))
    assert (response.status_code, response.json()["code"]) == (410, "invitation_gone")
    assert not Friendship.objects.active().between(alice.pk, mallory.pk).exists()


def test_own_invitation_and_existing_friends(alice, bob, api_as):
    befriend(alice, bob)
    token = create(api_as, alice).json()["token"]
    own = api_as(alice).post(accept_url(token))
    assert (own.status_code, own.json()["code"]) == (400, "cannot_friend_self")
    friends = api_as(bob).post(accept_url(token))
    assert (friends.status_code, friends.json()["code"]) == (409, "already_friends")
    assert Invitation.objects.get().used_at is None  # not consumed


def test_an_inviter_who_blocked_you_looks_like_an_expired_link(alice, mallory, api_as):
    token = create(api_as, alice).json()["token"]
    services.block_create(blocker=alice, username="mallory")
    response = api_as(mallory).post(accept_url(token))
    assert (response.status_code, response.json()["code"]) == (410, "invitation_gone")
    assert Invitation.objects.get().used_at is None


# --- the link on the web -------------------------------------------------------------------------


def test_web_link_signed_out_then_log_in_makes_friends(alice, mallory, api_as, client):
    token = create(api_as, alice).json()["token"]
    page = client.get(f"/friends/invite/{token}/")
    assert page.status_code == 200
    assert b"alice invited you to Credo" in page.content
    response = client.post("/accounts/login/", {"login": "mallory", "password": PASSWORD})
    assert response.status_code == 302
    assert Friendship.objects.active().between(alice.pk, mallory.pk).exists()
    friends = client.get("/friends/")
    assert b"You and alice are now friends." in friends.content


def test_web_link_sign_up_confirm_email_then_friends(alice, api_as, client):
    token = create(api_as, alice).json()["token"]
    assert client.get(f"/friends/invite/{token}/").status_code == 200
    mail.outbox.clear()
    response = client.post("/accounts/signup/", {"username": "dora", "email": "dora@example.com",
                                                 "password1": "a long passphrase"})
    assert (response.status_code, response.url) == (302, "/accounts/confirm-email/")
    dora = User.objects.get(username="dora")
    assert not Friendship.objects.exists()  # not before the email is confirmed
    link = re.search(r"https?://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body)
    assert link is not None
    confirm = client.post(link.group(1))
    assert confirm.status_code == 302
    friendship = Friendship.objects.active().get()
    assert {friendship.member_a_id, friendship.member_b_id} == {alice.pk, dora.pk}
    assert friendship.via == "invitation"
    assert Invitation.objects.get().used_by == dora
    page = client.get("/friends/")
    assert b"<strong>alice</strong>" in page.content


def test_web_link_signed_in_shows_a_button_and_post_accepts(alice, mallory, api_as, client):
    token = create(api_as, alice).json()["token"]
    client.force_login(mallory)
    page = client.get(f"/friends/invite/{token}/")
    assert b"Become friends with alice" in page.content
    assert not Friendship.objects.exists()  # a GET changes nothing
    response = client.post(f"/friends/invite/{token}/")
    assert (response.status_code, response.url) == (302, "/friends/")
    assert Friendship.objects.active().count() == 1
    # Opening it again afterwards goes to the friends page.
    assert client.get(f"/friends/invite/{token}/").url == "/friends/"


def test_web_link_used_expired_unknown(alice, bob, mallory, api_as, client):
    with time_machine.travel(T0, tick=False):
        used = create(api_as, alice).json()["token"]
        expired = create(api_as, alice).json()["token"]
        invitations_services.invitation_accept(token=used, user=bob)
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        for token in (used, expired):
            page = client.get(f"/friends/invite/{token}/")
            assert page.status_code == 410
            assert b"This invitation has expired or was already used" in page.content
        client.force_login(mallory)
        assert client.post(f"/friends/invite/{expired}/").status_code == 410
    unknown = client.get("/friends/invite/" + "x" * 43 + "/")
    assert unknown.status_code == 404
    assert b"Invitation not found" in unknown.content


def test_web_link_post_signed_out_asks_to_log_in(alice, api_as, client):
    token = create(api_as, alice).json()["token"]
    response = client.post(f"/friends/invite/{token}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
