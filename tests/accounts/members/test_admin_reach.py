"""A moderator cannot take over the house: accounts that can enter the admin are out of their
reach, and no moderator changes an email or a password (a changed email plus a password reset
was a takeover of the superuser's account)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.members.models import User
from accounts.members.moderators import MODERATORS_GROUP
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root():  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def mod():  # type: ignore[no-untyped-def]
    user = UserFactory(username="mod")
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


@pytest.fixture
def mod_client(mod) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(mod)
    return client


def _form_data(client: Client, user: User) -> dict:
    form = client.get(f"/admin/accounts/user/{user.pk}/change/").context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    return {k: v for k, v in data.items() if v is not None}


def test_a_moderator_cannot_reach_the_superusers_change_form(mod_client, root):
    listing = mod_client.get("/admin/accounts/user/")
    assert listing.status_code == 200
    assert "root" not in [u.username for u in listing.context["cl"].result_list]
    change = mod_client.get(f"/admin/accounts/user/{root.pk}/change/")
    assert change.status_code == 302 and change.url == "/admin/"  # "does not exist"
    # Posting the takeover (a new email, a new username) changes nothing.
    attack = mod_client.post(f"/admin/accounts/user/{root.pk}/change/",
                             {"username": "root", "email": "mallory@evil.example"})
    assert attack.status_code == 302
    root.refresh_from_db()
    assert (root.username, root.email) == ("root", "root@example.com")
    assert mod_client.get(f"/admin/accounts/user/{root.pk}/password/").status_code in {403, 404}


def test_other_moderators_and_staff_are_out_of_reach_too(mod_client):
    other = UserFactory(username="othermod")
    other.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    staff = UserFactory(username="staffer", is_staff=True)
    shown = [u.username for u in mod_client.get("/admin/accounts/user/").context["cl"].result_list]
    assert "othermod" not in shown and "staffer" not in shown and "mod" not in shown
    for user in (other, staff):
        assert mod_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 302


def test_a_moderator_changes_no_members_email_or_password(mod_client, alice):
    page = mod_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    assert page.status_code == 200
    assert "email" not in page.context["adminform"].form.fields
    data = _form_data(mod_client, alice) | {"email": "mallory@evil.example", "city": "Lyon"}
    assert mod_client.post(f"/admin/accounts/user/{alice.pk}/change/", data).status_code == 302
    alice.refresh_from_db()
    assert (alice.email, alice.city) == ("alice@example.com", "Lyon")
    assert mod_client.get(f"/admin/accounts/user/{alice.pk}/password/").status_code == 403
    assert mod_client.post(f"/admin/accounts/user/{alice.pk}/password/",
                           {"password1": "a new passphrase", "password2": "a new passphrase"}).status_code == 403
    alice.refresh_from_db()
    assert alice.check_password("a new passphrase") is False


def test_the_superuser_still_reaches_everyone(root, alice, mod):
    client = Client()
    client.force_login(root)
    shown = {u.username for u in client.get("/admin/accounts/user/").context["cl"].result_list}
    assert {"root", "alice", "mod"} <= shown
    assert client.get(f"/admin/accounts/user/{root.pk}/change/").status_code == 200
    assert "email" in client.get(f"/admin/accounts/user/{alice.pk}/change/").context["adminform"].form.fields
    assert client.get(f"/admin/accounts/user/{alice.pk}/password/").status_code == 200
