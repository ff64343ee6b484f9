"""Two factors for everyone who can enter the admin (django-allauth MFA: TOTP + recovery codes):
enrolment on the first admin visit, a second factor at every later login, shorter sessions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time as counters
from django.contrib.auth.models import Group
from django.test import Client

from accounts.members.moderators import MODERATORS_GROUP
from tests.factories import PASSWORD, UserFactory

# Transactional: allauth announces a new authenticator after commit, as in production (where the
# enrolment then counts as the session's second factor before the response leaves).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _mfa_required(settings):  # type: ignore[no-untyped-def]
    settings.ADMIN_MFA_REQUIRED = True


@pytest.fixture
def mod():  # type: ignore[no-untyped-def]
    user = UserFactory(username="mod")
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


def _log_in(client: Client, username: str, next_url: str = "/admin/"):  # type: ignore[no-untyped-def]
    return client.post(f"/accounts/login/?next={next_url}", {"login": username, "password": PASSWORD})


def _code(secret: str) -> str:
    if time.time() % 30 > 28:  # still current when the server checks it (30 s periods)
        time.sleep(30 - time.time() % 30 + 0.2)
    return format_hotp_value(hotp_value(secret, next(iter(counters()))))


def _enrol(client: Client) -> str:
    """Follow the admin's enrolment: the activation page, then a code from its secret."""
    activate = "/accounts/2fa/totp/activate/?next=/admin/"
    # Adding an authenticator asks for the password again (a stolen session cannot enrol its own).
    reauth = client.get(activate)
    assert reauth.status_code == 302 and reauth.url.startswith("/accounts/reauthenticate/")
    assert client.post(reauth.url, {"password": PASSWORD}).status_code == 302
    page = client.get(activate)
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    done = client.post("/accounts/2fa/totp/activate/?next=/admin/", {"code": _code(secret)})
    assert done.status_code == 302
    return secret


def test_the_first_admin_visit_enrols_a_second_factor_then_lets_in(mod):
    client = Client()
    assert _log_in(client, "mod").url == "/admin/"
    sent = client.get("/admin/")
    assert sent.status_code == 302 and sent.url == "/accounts/2fa/totp/activate/?next=%2Fadmin%2F"
    _enrol(client)
    # allauth made recovery codes along with the TOTP, and shows them once enrolled.
    assert set(Authenticator.objects.filter(user=mod).values_list("type", flat=True)) == {"totp", "recovery_codes"}
    assert client.get("/accounts/2fa/recovery-codes/").status_code == 200
    # The code proved at enrolment is this session's second factor.
    assert client.get("/admin/").status_code == 200


def test_an_admin_login_without_a_second_factor_is_refused(mod):
    first = Client()
    _log_in(first, "mod")
    _enrol(first)
    # A new browser: the password alone does not log in; the admin stays closed.
    client = Client()
    stage = _log_in(client, "mod")
    assert stage.status_code == 302 and stage.url.startswith("/accounts/2fa/authenticate/")
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin.url.startswith("/admin/login/")
    assert client.get(admin.url).url.startswith("/accounts/login/")
    # A recovery code is a second factor too.
    recovery = Authenticator.objects.get(user=mod, type="recovery_codes").wrap().get_unused_codes()[0]
    passed = client.post(stage.url, {"code": recovery})
    assert passed.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_session_that_skipped_the_second_factor_must_confirm_a_code(mod):
    enrolled = Client()
    _log_in(enrolled, "mod")
    _enrol(enrolled)
    client = Client()
    client.force_login(mod)  # a session that never passed the second factor
    sent = client.get("/admin/accounts/user/")
    assert sent.status_code == 302 and sent.url == "/accounts/2fa/reauthenticate/?next=%2Fadmin%2Faccounts%2Fuser%2F"


def test_the_admins_own_password_form_is_no_way_in(mod):
    client = Client()
    response = client.post("/admin/login/", {"username": "mod", "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_members_log_in_with_the_password_alone(alice):
    client = Client()
    assert _log_in(client, "alice", next_url="/dashboard/").url == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_moderators_sessions_are_shorter_than_members(mod, alice, settings):
    moderator, member = Client(), Client()
    _log_in(moderator, "mod")
    moderator.get("/admin/")
    _log_in(member, "alice", next_url="/dashboard/")
    member.get("/dashboard/")
    assert moderator.session.get_expiry_age() == settings.MODERATOR_SESSION_SECONDS == 4 * 3600
    assert member.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 14 * 24 * 3600


def test_the_admin_asks_for_a_code_again_once_the_last_one_is_older_than_a_moderators_session(mod, settings):
    client = Client()
    _log_in(client, "mod")
    _enrol(client)
    assert client.get("/admin/").status_code == 200
    settings.MODERATOR_SESSION_SECONDS = 60  # the session (4 hours from its last change) lives on
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        sent = client.get("/admin/")
    assert sent.status_code == 302 and sent.url.startswith("/accounts/2fa/reauthenticate/")
