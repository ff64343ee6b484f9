from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core import mail

from accounts.members.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_landing_for_visitors_redirect_for_members(client, alice):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Create your account" in response.content
    client.force_login(alice)
    assert client.get("/").url == "/dashboard/"


def test_dashboard_needs_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_sign_up_verify_email_log_in_and_see_the_dashboard(client):
    response = client.post("/accounts/signup/", {"username": "dora", "email": "dora@example.com",
                                                 "password1": "a long passphrase"})
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    user = User.objects.get(username="dora")
    assert EmailAddress.objects.get(user=user).verified is False
    link = re.search(r"https?://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body)
    assert link is not None
    confirm = client.post(link.group(1))
    assert confirm.status_code == 302
    assert EmailAddress.objects.get(user=user).verified is True
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert b"Hello, dora" in page.content
    assert b"1 of 5 profile items complete" in page.content


def test_sign_up_with_a_known_email_looks_exactly_like_a_new_one(client, alice):
    mail.outbox.clear()
    known = client.post("/accounts/signup/", {"username": "sneaky", "email": "alice@example.com",
                                              "password1": "a long passphrase"})
    client.logout()
    fresh = client.post("/accounts/signup/", {"username": "fresh", "email": "fresh@example.com",
                                              "password1": "a long passphrase"})
    assert known.status_code == fresh.status_code == 302
    assert known.url == fresh.url == "/accounts/confirm-email/"
    assert not User.objects.filter(username="sneaky").exists()
    assert [m.to for m in mail.outbox] == [["alice@example.com"], ["fresh@example.com"]]


def test_password_reset_answers_the_same_for_known_and_unknown_emails(client, alice):
    known = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url


def test_web_login_lockout_after_five_failures(client, alice):
    for _ in range(5):
        client.post("/accounts/login/", {"login": "alice", "password": "wrong wrong wrong"})
    response = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content


def test_settings_profile_and_privacy(client, alice):
    client.force_login(alice)
    response = client.post("/settings/", {"form": "profile", "profile-city": "Lyon",
                                          "profile-phone": "+33 6 12 34 56 78",
                                          "profile-timezone": "Europe/Paris"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.city, alice.phone, alice.timezone) == ("Lyon", "+33 6 12 34 56 78", "Europe/Paris")
    client.post("/settings/", {"form": "privacy", "privacy-profile_visibility": "public",
                               "privacy-on_global_board": "on"})
    alice.refresh_from_db()
    assert alice.profile_visibility == "public" and alice.on_global_board is True
    assert alice.private_mode is False


def test_settings_bad_input_is_a_form_error_and_saves_nothing(client, alice):
    client.force_login(alice)
    response = client.post("/settings/", {"form": "profile", "profile-city": "Lyon",
                                          "profile-timezone": "Nowhere/Else"})
    assert response.status_code == 200
    assert b"Unknown time zone" in response.content
    alice.refresh_from_db()
    assert alice.city == ""


def test_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_moderator_uses_the_admin_without_being_staff(client):
    moderator = UserFactory(username="mod")
    moderator.groups.add(Group.objects.get(name="Moderators"))
    assert moderator.is_staff is False
    # The admin's login is allauth's (lockout, rate limits, the second factor), then back.
    to_login = client.get("/admin/login/?next=/admin/")
    assert to_login.status_code == 302 and to_login.url == "/accounts/login/?next=%2Fadmin%2F"
    response = client.post(to_login.url, {"login": "mod", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    member = UserFactory(username="target")
    change = client.get(f"/admin/accounts/user/{member.pk}/change/")
    assert change.status_code == 200
    assert b"user_permissions" not in change.content and b"is_superuser" not in change.content
    assert client.get(f"/admin/accounts/user/{member.pk}/delete/").status_code == 403
    assert client.get("/admin/auth/group/").status_code in {403, 404}


def test_plain_member_is_refused_by_the_admin(client, alice):
    assert client.post("/accounts/login/", {"login": "alice", "password": PASSWORD}).status_code == 302
    assert client.get("/admin/").url == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/?next=/admin/").status_code == 403  # refused, not sent round in a loop
    client.logout()
    client.force_login(alice)
    assert client.get("/admin/accounts/user/").status_code == 302
