"""The API against its own OpenAPI document: schemathesis fuzzes every operation of the live
schema (``/api/schema/``) through the real application (WSGI, in this test's database) and fails
on any check: no 5xx, every status and body documented, valid requests accepted and invalid
ones refused.

A member's token authenticates every request; a hook signs the partner ingestion requests like a
partner would (``before_call``), so their bodies reach validation. Examples per operation are
bounded (``MAX_EXAMPLES``) to keep the suite's time, and drawn the same way at every run (CI is
reproducible); ``CONTRACT_EXAMPLES=200 CONTRACT_RANDOM=1`` explores further.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import positive_data_acceptance
from schemathesis.core import NotSet
from schemathesis.transport.prepare import prepare_path
from schemathesis.transport.requests import prepare_query
from werkzeug.test import EnvironBuilder

from scoring.ingestion.consent import consent_grant
from scoring.ingestion.partners import IssuedKey, partner_create, sign
from tests.factories import UserFactory

MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "20"))

#: Refusals that depend on what the database holds, which a schema cannot say: a request valid
#: by the schema may still meet them, so "schema-valid request rejected" does not count for these
#: 400s (every other check does; each code is documented on its operation).
STATE_DEPENDENT: dict[str, set[str]] = {
    "POST /api/v1/auth/login/": {"invalid_credentials"},  # which password is right
    "POST /api/v1/auth/register/": {"username_taken", "weak_password"},  # which names are free; similar to the name
    "POST /api/v1/me/delete/": {"wrong_password"},
    # Which members exist and consented, which Idempotency-Keys were used, dates relative to today,
    # and the rules between an event's fields (described on the operation, not in JSON Schema).
    "POST /api/v1/events/": {"unknown_member", "in_future", "out_of_range", "payment_outcome", "not_for_kind",
                             "invalid_amount", "required", "idempotency_key_reused"},
    "POST /api/v1/events/batch/": {"unknown_member", "in_future", "out_of_range", "payment_outcome",
                                   "not_for_kind", "invalid_amount", "required", "idempotency_key_reused"},
    # Rules between fields, stated on the operation.
    "POST /api/v1/me/score/what-if/": {"not_for_kind", "payment_outcome"},
    # Who is a friend, and who can play now.
    "POST /api/v1/challenges/": {"not_friends", "opponents_not_friends", "opponent_unavailable", "not_eligible",
                                 "cannot_challenge_self", "duplicate_opponent"},
    # Only cursors the API gave out; "around" and "cursor" not together (a rule between two parameters).
    "GET /api/v1/leaderboards/{board}/": {"invalid_cursor", "invalid"},
    "GET /api/v1/me/notifications/": {"invalid_cursor"},
    "GET /api/v1/partner/events/": {"invalid_cursor"},
    # Where a webhook URL's host resolves (public addresses only), and http outside development.
    "PUT /api/v1/partner/webhook/": {"webhook_url_scheme", "webhook_url_address", "webhook_url_unresolved",
                                     "webhook_url_invalid"},
    # Rules between fields, stated on the operation: `corrected` with the `corrected` verdict only, and then
    # required.
    "POST /api/v1/partner/events/{external_id}/dispute-response/": {"required", "not_for_verdict"},
}
SIGNED_PATHS = ("/api/v1/events/", "/api/v1/events/batch/")
#: Every operation under it is signed by a partner (a GET signs its path with the query).
PARTNER_PREFIX = "/api/v1/partner/"
#: The partner key of the test world, for the signing hook (set by ``api_schema``).
_partner: dict[str, IssuedKey] = {}

application = get_wsgi_application()
#: Loaded once, when the tests are collected (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


def _signed_path(case: Any) -> bytes:
    """What a partner signs for a GET: the path with its query exactly as the server reads them
    (``request.get_full_path()``), from the request Werkzeug builds for this case."""
    path = case.operation.schema.get_full_path(prepare_path(case.path, case.path_parameters))
    environ = EnvironBuilder(path=path, method=case.method, query_string=prepare_query(case)).get_environ()
    return WSGIRequest(environ).get_full_path().encode()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Sign a partner request as the partner would: the exact bytes sent (a GET: its path and
    query), a fresh timestamp. Headers the case left out stay out (that is what a missing-header
    test sends)."""
    signed_body = case.path in SIGNED_PATHS
    if not (signed_body or case.path.startswith(PARTNER_PREFIX)) or "acme" not in _partner:
        return
    headers = case.headers if case.headers is not None else {}
    if not all(name in headers for name in ("X-Credo-Key", "X-Credo-Timestamp", "X-Credo-Signature")):
        return
    timestamp = str(int(time.time()))
    if case.method.upper() == "GET":
        payload = _signed_path(case)
    else:
        body = case.body
        payload = b"" if isinstance(body, NotSet) else body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        kwargs["data"] = payload
    headers.update({"X-Credo-Key": _partner["acme"].key_id, "X-Credo-Timestamp": timestamp,
                    "X-Credo-Signature": sign(_partner["acme"].secret, timestamp, payload)})
    case.headers = headers


@pytest.fixture
def world(db, settings):  # type: ignore[no-untyped-def]
    """alice (the member whose token every request carries), bob, and Acme Bank, which alice
    connected; throttles out of the way."""
    framework = dict(settings.REST_FRAMEWORK)
    framework["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(framework["DEFAULT_THROTTLE_RATES"], "100000/minute")
    settings.REST_FRAMEWORK = framework
    cache.clear()
    alice = UserFactory(username="alice")
    UserFactory(username="bob")
    issued = partner_create(name="Acme Bank", slug="acme")
    _partner["acme"] = issued
    from scoring.ingestion.models import Partner

    consent_grant(member=alice, partner=Partner.objects.get(slug="acme"))
    _, token = AuthToken.objects.create(alice)
    # As Django's test client does: a request must not close the test's connection (and its
    # transaction) when it starts or ends.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Token {token}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not os.environ.get("CONTRACT_RANDOM"), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_api_keeps_its_contract(case, world):  # type: ignore[no-untyped-def]
    response = case.call(headers=world)
    excluded = []
    if response.status_code in (400, 422) and _code(response) in STATE_DEPENDENT.get(case.operation.label, ()):
        excluded.append(positive_data_acceptance)
    case.validate_response(response, headers=world, excluded_checks=excluded, transport_kwargs={"headers": world})


def _code(response: Any) -> str | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None
