"""The OpenAPI document describes every webhook a partner can receive, and the partner's calls."""

from __future__ import annotations

import pytest
from django.test import Client

from scoring.webhooks.models import WebhookType

pytestmark = pytest.mark.django_db


def test_every_webhook_type_is_documented_with_its_body_and_headers():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["openapi"].startswith("3.0") and "webhooks" not in schema
    hooks = schema["x-webhooks"]
    assert list(hooks) == WebhookType.values
    components = schema["components"]["schemas"]
    for kind, hook in hooks.items():
        operation = hook["post"]
        for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            assert header in operation["description"]
        body = components[operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/")[-1]]
        assert set(body["required"]) == {"type", "timestamp", "data"}
        assert body["properties"]["type"]["pattern"] == "^" + kind.replace(".", "\\.") + "$"
    event = components["WebhookEventData"]
    assert set(event["properties"]) == {"external_id", "member", "kind", "status", "received_at", "scored_at",
                                        "dispute"}
    assert set(components["WebhookConsentData"]["properties"]) == {"member", "revoked_at"}
    put = schema["paths"]["/api/v1/partner/webhook/"]["put"]
    assert {p["name"] for p in put["parameters"]} >= {"X-Credo-Key", "X-Credo-Timestamp", "X-Credo-Signature"}
    assert "`webhook_url_address`" in put["responses"]["400"]["description"]
