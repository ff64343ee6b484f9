"""No secret and no member data beyond ids in any log line: a slice of the real flows that handle
secrets runs with every logger at DEBUG into one file, rendered as production renders it, and the
whole file is searched for each secret value the flows used and for secret-shaped text.

The whole suite's lines are searched too, for secret shapes and the suite's passwords
(tests/conftest.py, ``pytest_sessionfinish``).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from config.asgi import application
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create, sign
from tests.factories import PASSWORD
from tests.scoring.conftest import card_event

pytestmark = pytest.mark.django_db(transaction=True)  # after-commit work (tasks, emails) runs as in production

#: Text that must never appear in a line, whatever the value.
SECRET_SHAPES = [
    re.compile(r"sha256=[0-9a-f]{8,}"),
    re.compile(r"whsec_[A-Za-z0-9+/=_-]{4,}"),
    re.compile(r"\b(Token|Bearer)\s+(?!\[redacted\])\S+"),
    re.compile(r"sessionid=(?!\[redacted\])\w+"),
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}"),
]


def _signed_post(client: APIClient, key, body: bytes, *, secret: str | None = None) -> tuple:  # type: ignore[no-untyped-def]
    stamp = int(time.time())
    signature = sign(secret or key.secret, stamp, body)
    response = client.post("/api/v1/events/", data=body, content_type="application/json",
                           HTTP_X_CREDO_KEY=key.key_id, HTTP_X_CREDO_TIMESTAMP=str(stamp),
                           HTTP_X_CREDO_SIGNATURE=signature, HTTP_IDEMPOTENCY_KEY=f"idem-{stamp}-{len(body)}")
    return response, signature


def _signed_headers(key, body: bytes) -> dict[str, str]:  # type: ignore[no-untyped-def]
    stamp = int(time.time())
    return {"HTTP_X_CREDO_KEY": key.key_id, "HTTP_X_CREDO_TIMESTAMP": str(stamp),
            "HTTP_X_CREDO_SIGNATURE": sign(key.secret, stamp, body)}


async def _socket_with_ticket(ticket: str) -> str:
    socket = WebsocketCommunicator(application, f"/ws/leaderboards/?ticket={ticket}&board=friends")
    connected, _ = await socket.connect()
    assert connected
    snapshot = await socket.receive_json_from(timeout=5)
    await socket.disconnect()
    await get_channel_layer().flush()
    return str(snapshot["type"])


def test_the_flows_that_handle_secrets_log_none_of_them(alice, debug_logs, settings):
    # alice first: factory_boy logs the password it sets at DEBUG (test tooling, not the app).
    settings.ADMIN_MFA_REQUIRED = False
    secrets: dict[str, str] = {"factory password": PASSWORD, "alice's email": alice.email}
    api = APIClient()

    # Register with a password; the member's token comes back.
    password = "correct horse battery staple 42"
    registered = api.post("/api/v1/auth/register/", {"username": "dora", "email": "dora.k@example.org",
                                                     "password": password}, format="json")
    assert registered.status_code == 201
    secrets |= {"registration password": password, "dora's email": "dora.k@example.org",
                "registration token": registered.json()["token"]}
    assert len(mail.outbox) == 1  # the confirmation email, sent after commit: its key stays out of the log
    confirmation_key = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[0].body)
    assert confirmation_key is not None
    secrets["email confirmation key"] = confirmation_key.group(1)

    # Log in with a password (a token), use the token, fail a login.
    login = api.post("/api/v1/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert login.status_code == 200
    token = login.json()["token"]
    secrets["login token"] = token
    member_api = APIClient()
    member_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert member_api.get("/api/v1/me/").status_code == 200
    wrong = "not-alices-password-77"
    assert api.post("/api/v1/auth/login/", {"username": "alice", "password": wrong},
                    format="json").status_code in (400, 401)
    secrets["failed password"] = wrong

    # Log in on the web: a session and its CSRF token.
    browser = Client()
    assert browser.post("/accounts/login/", {"login": "alice", "password": PASSWORD}).status_code == 302
    secrets["session id"] = browser.cookies["sessionid"].value
    assert browser.get("/dashboard/").status_code == 200
    if "csrftoken" in browser.cookies:
        secrets["csrf token"] = browser.cookies["csrftoken"].value

    # A partner signs events: one accepted (and scored after commit), one refused for its signature.
    key = partner_create(name="Acme Bank", slug="acme")
    consent_grant(member=alice, partner=Partner.objects.get(slug="acme"))
    secrets["partner secret"] = key.secret
    partner = APIClient()
    accepted, signature = _signed_post(partner, key, json.dumps(card_event()).encode())
    assert accepted.status_code == 201
    refused, bad_signature = _signed_post(partner, key, json.dumps(card_event(external_id="card-2")).encode(),
                                          secret="a-guessed-secret")
    assert refused.status_code == 401
    secrets |= {"signature": signature.removeprefix("sha256="), "bad signature": bad_signature.removeprefix("sha256=")}

    # The partner configures a webhook (its whsec_ secret is shown once) and rotates the secret;
    # after the events above, and for a type nothing below sends, so nothing is delivered.
    body = json.dumps({"url": "https://93.184.215.14/hooks", "events": ["consent.revoked"]}).encode()
    configured = partner.put("/api/v1/partner/webhook/", data=body, content_type="application/json",
                             **_signed_headers(key, body))
    assert configured.status_code == 200 and configured.json()["secret"].startswith("whsec_")
    rotated = partner.post("/api/v1/partner/webhook/rotate/", data=b"", content_type="application/json",
                           **_signed_headers(key, b""))
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
    secrets |= {"webhook secret": configured.json()["secret"], "rotated webhook secret": rotated.json()["secret"]}

    # A data export and its signed download link.
    export = member_api.post("/api/v1/me/export/")
    assert export.status_code == 202
    url = member_api.get(f"/api/v1/me/export/{export.json()['id']}/").json()["url"]
    secrets["export link signature"] = url.split("sig=", 1)[1]
    download = member_api.get(url)
    assert download.status_code == 200
    b"".join(download.streaming_content)

    # A socket opened with a single-use ticket.
    ticket = member_api.post("/api/v1/ws-ticket/").json()["ticket"]
    secrets["socket ticket"] = ticket
    assert async_to_sync(_socket_with_ticket)(ticket) == "snapshot"

    text = debug_logs.text()
    events = {line["event"] for line in debug_logs.lines()}
    # The flows were logged (a search of an empty file proves nothing) …
    assert {"request_started", "request_finished", "task_succeeded", "socket_connected",
            "socket_disconnected"} <= events
    assert len(debug_logs.events("request_finished")) >= 12
    # … and none of what they handled is in any line.
    leaked = {name: value for name, value in secrets.items() if value and value in text}
    assert leaked == {}
    shaped = [match.group(0) for shape in SECRET_SHAPES for match in shape.finditer(text)]
    assert shaped == []
