"""Partner ingestion through the real ``config.asgi.application``, as uvicorn serves it.

The HTTP handler runs the middleware chain and the view in one thread per request (sync, as
under WSGI and the test client): the middleware still applies, signatures and idempotency are
unchanged, a refusal is still JSON. Database reads here go through ``database_sync_to_async``,
which hands its thread's connection back to the pool afterwards.
"""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import iscoroutinefunction
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.db import connection
from django.db.models import QuerySet
from django.test import Client

from accounts.members.models import User
from config.asgi import SyncStackASGIHandler, application, django_asgi_app
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Event, IdempotencyRecord, Partner
from scoring.ingestion.partners import IssuedKey, partner_create, sign
from tests.scoring.conftest import card_event

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = "/api/v1/events/"


@pytest.fixture(autouse=True)
def _fresh_pool_after():  # type: ignore[no-untyped-def]
    yield
    # The requests here run in asgiref's threads, whose connections these tests do not close:
    # start the next test with a fresh pool (tests/config/test_celery.py counts its connections).
    connection.close()
    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("pool"):
        connection.close_pool()


@pytest.fixture
async def acme_key() -> IssuedKey:
    def make() -> IssuedKey:
        issued = partner_create(name="Acme Bank", slug="acme")
        alice = User.objects.create_user(username="alice", email="alice@example.com", password="x" * 12)
        consent_grant(member=alice, partner=Partner.objects.get(slug="acme"))
        return issued

    return await database_sync_to_async(make)()


def signed_headers(key: IssuedKey, body: bytes, idempotency_key: str) -> list[tuple[bytes, bytes]]:
    ts = str(int(time.time()))
    return [
        (b"content-type", b"application/json"),
        (b"x-credo-key", key.key_id.encode()),
        (b"x-credo-timestamp", ts.encode()),
        (b"x-credo-signature", sign(key.secret, ts, body).encode()),
        (b"idempotency-key", idempotency_key.encode()),
    ]


def count(queryset: QuerySet) -> int:
    return queryset.count()


async def post(path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> dict:
    communicator = HttpCommunicator(application, "POST", path, body=body, headers=[(b"host", b"testserver"), *headers])
    return await communicator.get_response(timeout=10)


def test_the_http_handler_runs_the_middleware_chain_sync():
    assert isinstance(django_asgi_app, SyncStackASGIHandler)
    assert not iscoroutinefunction(django_asgi_app._middleware_chain)


async def test_a_signed_event_through_asgi_is_stored_once_and_replayed(acme_key):
    body = json.dumps(card_event()).encode()
    first = await post(EVENTS, body, signed_headers(acme_key, body, "k-1"))
    again = await post(EVENTS, body, signed_headers(acme_key, body, "k-1"))

    event = await database_sync_to_async(Event.objects.get)()
    expected = {"id": event.pk, "external_id": "card-1", "member": "alice", "kind": "card_repayment",
                "status": "pending", "duplicate": False}
    assert (first["status"], json.loads(first["body"])) == (201, expected)
    assert (again["status"], json.loads(again["body"])) == (201, expected)
    headers = dict(again["headers"])
    assert headers[b"Idempotent-Replayed"] == b"true"
    # The middleware chain ran around the view: its headers are on the response.
    assert (headers[b"X-Frame-Options"], headers[b"X-Content-Type-Options"]) == (b"DENY", b"nosniff")
    assert await database_sync_to_async(count)(IdempotencyRecord.objects.filter(
        key="k-1", state=IdempotencyRecord.State.DONE)) == 1


async def test_a_bad_signature_through_asgi_is_a_json_401_and_writes_nothing(acme_key):
    body = json.dumps(card_event()).encode()
    headers = [(k, b"sha256=" + b"0" * 64 if k == b"x-credo-signature" else v)
               for k, v in signed_headers(acme_key, body, "k-2")]
    response = await post(EVENTS, body, headers)

    assert response["status"] == 401
    assert json.loads(response["body"]) == {"code": "bad_signature",
                                            "detail": "X-Credo-Signature does not match the body."}
    assert (await database_sync_to_async(count)(Event.objects.all()),
            await database_sync_to_async(count)(IdempotencyRecord.objects.all())) == (0, 0)


async def test_a_frozen_members_web_post_through_asgi_is_refused(acme_key):
    def frozen_cookie() -> bytes:
        User.objects.filter(username="alice").update(is_frozen=True, frozen_reason="Fake events.")
        client = Client()
        client.force_login(User.objects.get(username="alice"))
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    cookie = await database_sync_to_async(frozen_cookie)()
    response = await post("/settings/", b"", [(b"cookie", cookie)])

    assert response["status"] == 403
    assert b"Your account is frozen" in response["body"]
