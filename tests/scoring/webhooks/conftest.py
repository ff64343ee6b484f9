"""Webhook fixtures: a real receiver on the loopback and acme's endpoint pointing at it.

Loopback URLs are allowed only where ``WEBHOOKS_ALLOW_LOCAL`` is on: the fixtures that use the
receiver turn it on explicitly (``allow_local``), as development does; the guard's tests show
the default refuses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scoring.webhooks.models import WebhookType
from scoring.webhooks.receiver import Receiver
from scoring.webhooks.services import EndpointSet, webhook_endpoint_set


@pytest.fixture
def allow_local(settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOKS_ALLOW_LOCAL = True
    return settings


@pytest.fixture
def short_schedule(settings):  # type: ignore[no-untyped-def]
    """Four attempts, at 0, 1, 2 and 3 s (time-machine moves the clock past them)."""
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 1, 2, 3]
    return settings.WEBHOOKS_RETRY_SCHEDULE


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def acme_endpoint(acme, receiver, allow_local) -> EndpointSet:  # type: ignore[no-untyped-def]
    configured = webhook_endpoint_set(partner=acme, url=receiver.url, types=WebhookType.values, actor_name="test")
    assert configured.secret is not None
    receiver.secrets = [configured.secret]
    return configured
