"""The cast for the partner's side: moderation's world (alice–bob and bob–carol friends, alice's
Acme Bank card repayments scored: three missed, three on time), Acme's signed client, and Bolt
Bank, another partner with a live key of its own."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from scoring.ingestion.partners import IssuedKey, partner_create
from tests.scoring.conftest import SignedClient, acme, acme_key, partner_client  # noqa: F401  (fixtures)
from tests.scoring.moderation.conftest import (  # noqa: F401  (fixtures)
    _vest_at_once,
    member_client,
    mod_client,
    moderator,
    run,
    world,
)


@pytest.fixture
def bolt_key(db) -> IssuedKey:  # type: ignore[no-untyped-def]
    return partner_create(name="Bolt Bank", slug="bolt")


@pytest.fixture
def bolt_client(bolt_key) -> SignedClient:
    return SignedClient(APIClient(), bolt_key)
