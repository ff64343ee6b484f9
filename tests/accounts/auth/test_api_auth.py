from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from knox.models import AuthToken

from accounts.members.models import User
from accounts.members.signals import profile_changed
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
ME = "/api/v1/me/"


def test_register_returns_user_token_and_expiry_and_the_token_works(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(REGISTER, {"username": "dora", "email": "dora@example.com",
                                       "password": "a long passphrase"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "token", "expiry"}
    assert body["user"]["username"] == "dora"
    assert body["user"]["email"] == "dora@example.com"
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get(ME).json()["username"] == "dora"
    # A verification email went to the address.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dora@example.com"]


def test_register_with_a_known_email_answers_the_same_and_tells_the_owner(
    api, alice, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(REGISTER, {"username": "impostor", "email": "alice@example.com",
                                       "password": "a long passphrase"}, format="json")
    assert response.status_code == 201
    assert set(response.json()) == {"user", "token", "expiry"}
    assert response.json()["user"]["email"] == "alice@example.com"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "already exists" in mail.outbox[0].body


def test_register_username_taken(api, alice):
    response = api.post(REGISTER, {"username": "alice", "email": "new@example.com",
                                   "password": "a long passphrase"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "username_taken"
    assert User.objects.filter(username="alice").count() == 1


@pytest.mark.parametrize(
    ("password", "message_part"),
    [("short", "too short"), ("password123", "too common")],
)
def test_register_refuses_weak_passwords_by_length_and_blocklist(api, password, message_part):
    response = api.post(REGISTER, {"username": "erin", "email": "erin@example.com",
                                   "password": password}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "weak_password"
    assert body["detail"].startswith("password: ")
    assert any(message_part in m for m in body["fields"]["password"])
    assert not User.objects.filter(username="erin").exists()


def test_no_composition_rules_a_lowercase_passphrase_is_fine(api):
    response = api.post(REGISTER, {"username": "frank", "email": "frank@example.com",
                                   "password": "purple elephants dance"}, format="json")
    assert response.status_code == 201


def test_malformed_json_is_a_parse_error(api):
    response = api.post(REGISTER, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_unknown_fields_are_refused_by_name(api):
    response = api.post(REGISTER, {"username": "gina", "email": "gina@example.com",
                                   "password": "a long passphrase", "is_staff": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "unknown_field", "detail": "is_staff: Unknown field.",
                               "fields": {"is_staff": ["Unknown field."]}}


def test_missing_and_wrong_typed_fields(api):
    response = api.post(REGISTER, {"username": "hal", "email": 12}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] in {"invalid", "required"}
    assert set(body["fields"]) == {"email", "password"}


def test_json_list_instead_of_object(api):
    response = api.post(REGISTER, [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_form_encoded_body_is_unsupported_media_type(api):
    response = api.post(REGISTER, {"username": "x"})  # multipart by default
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_missing_auth_is_401_with_code(api):
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated",
                               "detail": "Authentication credentials were not provided."}


def test_bad_token_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Token nonsense")
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_expired_token_is_refused(api, alice):
    instance, token = AuthToken.objects.create(alice)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_login_gives_a_device_token_and_logout_revokes_only_it(api, alice):
    first = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").json()
    second = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").json()
    assert AuthToken.objects.filter(user=alice).count() == 2
    api.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get(ME).status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert api.get(ME).status_code == 200


def test_logoutall_revokes_every_device(api, alice):
    tokens = [api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").json()["token"]
              for _ in range(3)]
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    assert api.post("/api/v1/auth/logoutall/").status_code == 204
    assert AuthToken.objects.filter(user=alice).count() == 0
    for token in tokens:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get(ME).status_code == 401


def test_wrong_password_is_400_without_saying_which_part_was_wrong(api, alice):
    wrong_password = api.post(LOGIN, {"username": "alice", "password": "nope nope nope"}, format="json")
    no_such_user = api.post(LOGIN, {"username": "nobody", "password": "nope nope nope"}, format="json")
    assert wrong_password.status_code == no_such_user.status_code == 400
    assert wrong_password.json() == no_such_user.json() == {
        "code": "invalid_credentials", "detail": "Wrong username or password."}


def test_lockout_of_username_and_ip_after_five_failures(api, alice):
    for _ in range(5):
        api.post(LOGIN, {"username": "alice", "password": "wrong wrong wrong"}, format="json")
    locked = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    # Another address is not locked out for the same member (the pair is locked, not the user).
    other_ip = api.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json",
                        REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200


def test_me_get_and_patch(api_as, alice):
    client = api_as(alice)
    body = client.get(ME).json()
    assert body["username"] == "alice"
    assert body["completeness"] == {"filled": 1, "of": 5, "fraction": 0.2,
                                    "missing": ["phone", "city", "avatar", "bio"]}
    response = client.patch(ME, {"city": "Lyon", "on_global_board": True}, format="json")
    assert response.status_code == 200
    assert response.json()["city"] == "Lyon"
    assert response.json()["completeness"]["filled"] == 2
    alice.refresh_from_db()
    assert alice.city == "Lyon" and alice.on_global_board is True


def test_me_patch_read_only_and_bad_values(api_as, alice):
    client = api_as(alice)
    response = client.patch(ME, {"username": "root"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "read_only"
    response = client.patch(ME, {"profile_visibility": "everyone!"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("profile_visibility: ")
    response = client.patch(ME, {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.username == "alice" and alice.timezone == "UTC"


def test_profile_change_signal_fires_after_commit(api_as, alice, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, user_id, fields, **kwargs):
        seen.append((user_id, fields))

    profile_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            api_as(alice).patch(ME, {"bio": "hi", "city": ""}, format="json")
    finally:
        profile_changed.disconnect(receiver)
    assert seen == [(alice.pk, ["bio"])]


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nope/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/register/" in schema.content
    assert client.get("/api/docs/").status_code == 200
