"""Issue #16's doors on the members' side: each test is an attack that went through before.

Rates are set per test (``rates``); the throttles read them when they are used.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from knox.models import AuthToken

from config.kernel.client_ip import client_ip
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
REGISTER = "/api/v1/auth/register/"
WRONG = {"username": "alice", "password": "wrong wrong wrong"}


@pytest.fixture
def rates(settings):  # type: ignore[no-untyped-def]
    """``rates(anon=…, auth=…)``: the API's throttle rates for this test (the rest stay generous)."""

    def set_rates(**scopes: str) -> None:
        framework = dict(settings.REST_FRAMEWORK)
        framework["DEFAULT_THROTTLE_RATES"] = {**framework["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = framework
        cache.clear()

    return set_rates


def test_rotating_x_forwarded_for_still_meets_429(api, rates, mallory):
    rates(anon="5/minute")
    codes = [api.post(LOGIN, WRONG | {"username": f"user{i}"}, format="json",
                      HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(7)]
    assert codes[:5] == [400] * 5
    assert codes[5:] == [429, 429]
    assert api.post(LOGIN, WRONG, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1").json()["code"] == "throttled"


def test_behind_one_trusted_proxy_the_address_it_saw_is_the_client(api, rates, settings):
    """With TRUSTED_PROXIES=1 the client is the last X-Forwarded-For entry (what our proxy
    appended); whatever the caller put before it is ignored, and two real clients are two."""
    settings.TRUSTED_PROXIES = 1
    rates(anon="3/minute")
    spoofed = [api.post(LOGIN, WRONG, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 192.0.2.7").status_code
               for i in range(4)]
    assert spoofed == [400, 400, 400, 429]
    other = api.post(LOGIN, WRONG, format="json", HTTP_X_FORWARDED_FOR="192.0.2.8")
    assert other.status_code == 400


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.9", "127.0.0.1"),  # trust none: the header is ignored
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
    (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    (2, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the leftmost, as DRF reads it
    (1, "", "127.0.0.1"),
])
def test_client_ip(settings, rf, proxies, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_21_logins_in_a_minute_meet_429(api, rates, alice):
    rates(auth="20/minute")
    codes = [api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").status_code
             for _ in range(21)]
    assert codes == [200] * 20 + [429]


def test_the_auth_scope_applies_to_register_and_log_out_too(api, rates, alice):
    rates(auth="2/minute")
    bodies = [{"username": f"new{i}", "email": f"new{i}@example.com", "password": "a long passphrase"}
              for i in range(3)]
    assert [api.post(REGISTER, body, format="json").status_code for body in bodies] == [201, 201, 429]
    tokens = [AuthToken.objects.create(alice)[1] for _ in range(3)]
    codes = []
    for token in tokens:  # log out, device after device: keyed on the member
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        codes.append(api.post("/api/v1/auth/logout/").status_code)
    assert codes == [204, 204, 429]


def test_the_device_token_cap_is_enforced_with_a_clear_error(api, alice):
    limit = 20  # REST_KNOX["TOKEN_LIMIT_PER_USER"]
    tokens = [api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").json()["token"]
              for _ in range(limit)]
    refused = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "token_limit_reached",
        "detail": "This account already has 20 signed-in devices: log out on one of them (or everywhere, "
                  "POST auth/logoutall/) and try again."}
    assert AuthToken.objects.filter(user=alice).count() == limit
    # Logging out on one device frees its place.
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    api.credentials()
    assert api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").status_code == 200


def test_web_login_failures_are_limited_per_address_over_many_usernames(client):
    """One password sprayed over many usernames: allauth's login_failed limit (10 per minute per
    address) stops it, whatever X-Forwarded-For says."""
    for i in range(12):
        UserFactory(username=f"victim{i}")
    answers = [client.post("/accounts/login/", {"login": f"victim{i}", "password": "Summer2026!"},
                           HTTP_X_FORWARDED_FOR=f"203.0.113.{i}") for i in range(12)]
    assert [b"Too many failed login attempts" in r.content for r in answers] == [False] * 10 + [True] * 2


def test_axes_lockout_holds_against_a_rotating_x_forwarded_for(api, alice):
    for i in range(5):
        api.post(LOGIN, WRONG, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    locked = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json",
                      HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"


def test_password_reset_requests_are_limited_per_account(client, alice):
    """allauth's reset_password limit: 5 a minute for one address, whatever X-Forwarded-For says."""
    from django.core import mail

    mail.outbox.clear()
    answers = [client.post("/accounts/password/reset/", {"email": "alice@example.com"},
                           HTTP_X_FORWARDED_FOR=f"203.0.113.{i}") for i in range(7)]
    assert [r.status_code for r in answers[:5]] == [302] * 5
    assert all(r.status_code == 429 for r in answers[5:])
    assert len(mail.outbox) == 5
