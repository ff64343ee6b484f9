"""What the OpenAPI document promises clients, read from the live ``/api/schema/``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):  # type: ignore[no-untyped-def]
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()


def _body(schema: dict, path: str, method: str = "post") -> dict:
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_ingestion_bodies_and_signing_headers_are_described(schema):
    for path in ("/api/v1/events/", "/api/v1/events/batch/"):
        operation = schema["paths"][path]["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == {"X-Credo-Key", "X-Credo-Timestamp", "X-Credo-Signature", "Idempotency-Key"}
        assert all(h["required"] for h in headers.values())
        assert "HMAC-SHA256" in headers["X-Credo-Signature"]["description"]
        assert {"key_revoked", "bad_signature", "stale_timestamp"} <= set(
            operation["responses"]["401"]["description"].replace("`", "").replace(",", " ").replace(".", " ").split())
    event = _body(schema, "/api/v1/events/")
    assert event["additionalProperties"] is False
    assert set(event["required"]) == {"member", "kind", "amount", "currency", "occurred_at", "external_id"}
    batch = _body(schema, "/api/v1/events/batch/")
    assert (batch["properties"]["events"]["minItems"], batch["properties"]["events"]["maxItems"]) == (1, 500)
    assert "all or nothing" in schema["paths"]["/api/v1/events/batch/"]["post"]["description"].lower()
    assert "all or nothing" in schema["info"]["description"].lower()


def test_every_operation_lists_its_errors_with_codes(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "429" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                    assert "`code`:" in response["description"], (method, path, status)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (method, path)
    login = schema["paths"]["/api/v1/auth/login/"]["post"]["responses"]
    assert "`invalid_credentials`" in login["400"]["description"] and "`too_deep`" in login["400"]["description"]
    assert "`token_limit_reached`" in login["403"]["description"]
    assert "`locked_out`" in login["429"]["description"]


def test_the_constraints_the_server_enforces_are_in_the_schema(schema):
    board = {p["name"]: p for p in schema["paths"]["/api/v1/leaderboards/{board}/"]["get"]["parameters"]}
    assert (board["limit"]["schema"]["minimum"], board["limit"]["schema"]["maximum"]) == (1, 100)
    feed = {p["name"]: p for p in schema["paths"]["/api/v1/me/notifications/"]["get"]["parameters"]}
    assert feed["limit"]["schema"]["minimum"] == 1
    challenge = _body(schema, "/api/v1/challenges/")
    assert challenge["additionalProperties"] is False and challenge["properties"]["opponents"]["minItems"] == 1
    assert _body(schema, "/api/v1/auth/register/")["additionalProperties"] is False
    what_if = _body(schema, "/api/v1/me/score/what-if/")
    assert what_if["properties"]["amount"]["pattern"].startswith("^(?!0*")  # above zero
