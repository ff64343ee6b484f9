from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import IssuedKey, partner_create, sign


@dataclass
class SignedClient:
    """A partner's HTTP client: signs every body like a partner would."""

    client: APIClient
    key: IssuedKey

    def post(self, path: str, payload: Any = None, *, raw: bytes | None = None,
             idempotency_key: str | None = "auto", timestamp: int | None = None, timestamp_offset: int = 0,
             secret: str | None = None, key_id: str | None = None, signature: str | None = None):
        body = raw if raw is not None else json.dumps(payload).encode()
        ts = int(time.time()) + timestamp_offset if timestamp is None else timestamp
        headers = {
            "HTTP_X_CREDO_KEY": key_id or self.key.key_id,
            "HTTP_X_CREDO_TIMESTAMP": str(ts),
            "HTTP_X_CREDO_SIGNATURE": signature or sign(secret or self.key.secret, ts, body),
        }
        if idempotency_key == "auto":
            idempotency_key = str(uuid.uuid4())
        if idempotency_key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return self.client.post(path, data=body, content_type="application/json", **headers)

    def signed_headers(self, payload: bytes, *, timestamp_offset: int = 0, secret: str | None = None,
                       key_id: str | None = None) -> dict[str, str]:
        ts = int(time.time()) + timestamp_offset
        return {"HTTP_X_CREDO_KEY": key_id or self.key.key_id, "HTTP_X_CREDO_TIMESTAMP": str(ts),
                "HTTP_X_CREDO_SIGNATURE": sign(secret or self.key.secret, ts, payload)}

    def get(self, path: str, *, signed_path: str | None = None, **signing: Any):
        """GET ``path`` (with its query) signed as a partner signs a GET: ``"<timestamp>." + path``
        (``signed_path``: sign another path than the one requested)."""
        return self.client.get(path, **self.signed_headers((signed_path or path).encode(), **signing))

    def send(self, method: str, path: str, payload: Any, **signing: Any):
        """A signed POST or PUT of ``payload`` as JSON (no Idempotency-Key)."""
        body = json.dumps(payload).encode()
        return getattr(self.client, method)(path, data=body, content_type="application/json",
                                            **self.signed_headers(body, **signing))


@pytest.fixture
def acme_key(db) -> IssuedKey:
    return partner_create(name="Acme Bank", slug="acme")


@pytest.fixture
def acme(acme_key) -> Partner:
    return Partner.objects.get(slug="acme")


@pytest.fixture
def partner_client(acme_key) -> SignedClient:
    return SignedClient(APIClient(), acme_key)


@pytest.fixture
def alice_consents(alice, acme):  # type: ignore[no-untyped-def]
    return consent_grant(member=alice, partner=acme)


def card_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "member": "alice", "kind": "card_repayment", "amount": "120.00", "currency": "EUR",
        "occurred_at": "2026-11-01T10:00:00Z", "due_date": "2026-11-01", "paid_date": "2026-11-01",
        "external_id": "card-1",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}
