"""No server-side request forgery: which webhook URLs are refused, at configuration and at delivery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from scoring.webhooks.delivery import webhooks_deliver
from scoring.webhooks.guard import UnsafeUrl, UnsafeUrlCode, destinations
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookType
from scoring.webhooks.outbox import webhook_record
from scoring.webhooks.services import webhook_endpoint_set

ROOT = Path(__file__).resolve().parents[3]


def _refusal(url: str) -> tuple[str, str]:
    with pytest.raises(UnsafeUrl) as refused:
        destinations(url)
    return refused.value.code, refused.value.detail


def test_the_default_refuses_local_addresses_and_http() -> None:
    assert django_settings.WEBHOOKS_ALLOW_LOCAL is False


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hooks", "https://127.8.9.10/", "https://10.0.0.5/", "https://10.255.255.254:8443/x",
    "https://172.16.0.1/", "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/", "https://0.0.0.0/", "https://224.0.0.1/", "https://240.0.0.1/",
    "https://[::1]/", "https://[fe80::1]/", "https://[fd00::1]/", "https://[::ffff:10.0.0.1]/",
    "https://[::ffff:127.0.0.1]/",
    # IPv4 carried in IPv6 forms that ipaddress counts as global: NAT64, 6to4, Teredo, IPv4-compatible,
    # and the old site-local range.
    "https://[64:ff9b::a00:5]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b:1::a00:5]/",
    "https://[2002:a00:5::1]/", "https://[2001:0:a00:5::1]/", "https://[::a00:5]/", "https://[fec0::1]/",
])
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(url: str) -> None:
    code, detail = _refusal(url)
    assert code == UnsafeUrlCode.ADDRESS
    assert "webhooks go to public addresses only" in detail


def test_a_hostname_that_resolves_to_a_local_address_is_refused() -> None:
    assert _refusal("https://localhost:8443/hooks") == (
        UnsafeUrlCode.ADDRESS,
        "The host localhost resolves to a private or reserved address: webhooks go to public addresses only.")


@pytest.mark.parametrize("url", ["http://93.184.215.14/hooks", "ftp://93.184.215.14/", "file:///etc/passwd",
                                 "gopher://93.184.215.14/"])
def test_only_https_outside_development(url: str) -> None:
    assert _refusal(url) == (UnsafeUrlCode.SCHEME, "Webhook URLs must use https.")


@pytest.mark.parametrize("url", ["https://user:secret@93.184.215.14/", "https:///nohost", "https://93.184.215.14:0/",
                                 "https://93.184.215.14:99999/", "not a url", "https://bücher.example/hooks"])
def test_malformed_urls_are_refused(url: str) -> None:
    code, _ = _refusal(url)
    assert code in {UnsafeUrlCode.INVALID, UnsafeUrlCode.SCHEME}


def test_a_host_that_does_not_resolve_is_refused() -> None:
    assert _refusal("https://no-such-host.invalid/hooks")[0] == UnsafeUrlCode.UNRESOLVED


def test_a_public_address_is_accepted_and_pinned() -> None:
    [destination] = destinations("https://93.184.215.14:8443/hooks?a=1")
    assert str(destination.address) == "93.184.215.14"
    assert destination.pinned_url() == "https://93.184.215.14:8443/hooks?a=1"
    [v6] = destinations("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h")
    assert v6.pinned_url() == "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/h"


def test_development_accepts_http_and_the_loopback(allow_local) -> None:  # type: ignore[no-untyped-def]
    [destination] = destinations("http://127.0.0.1:8000/hooks")
    assert (destination.scheme, str(destination.address), destination.port) == ("http", "127.0.0.1", 8000)
    assert str(destinations("http://localhost:9/")[0].address) == "127.0.0.1"


@pytest.mark.django_db
def test_configuring_a_local_url_is_refused(acme) -> None:  # type: ignore[no-untyped-def]
    for url in ["https://127.0.0.1/hooks", "https://10.1.2.3/", "http://93.184.215.14/", "https://localhost/"]:
        with pytest.raises(UnsafeUrl):
            webhook_endpoint_set(partner=acme, url=url, types=[WebhookType.EVENT_SCORED], actor_name="test")
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_the_address_is_checked_again_at_delivery(acme, acme_endpoint, receiver, settings):  # type: ignore[no-untyped-def]
    # Configured while the host was acceptable; at delivery it no longer is (what DNS rebinding
    # does to a public name): nothing is sent, the attempt says why.
    settings.WEBHOOKS_ALLOW_LOCAL = False
    webhook_record(partner_id=acme.pk, type=WebhookType.EVENT_SCORED, data={"external_id": "a"})
    webhooks_deliver(partner_id=acme.pk)
    assert receiver.requests == []
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.ok) == (None, False)
    assert attempt.error == ("refused: Webhook URLs must use https.")
    assert WebhookMessage.objects.get().attempts == 1


@pytest.mark.parametrize(("module", "env", "expected"), [
    ("config.settings.production", {"SECRET_KEY": "x" * 50, "WEBHOOKS_ALLOW_LOCAL": "true"}, "False"),
    ("config.settings.local", {"DEBUG": "true"}, "True"),
    ("config.settings.local", {"DEBUG": "false"}, "False"),
])
def test_only_development_allows_local_webhooks(module: str, env: dict[str, str], expected: str) -> None:
    code = "import django; django.setup(); from django.conf import settings; print(settings.WEBHOOKS_ALLOW_LOCAL)"
    clean = {k: v for k, v in os.environ.items() if k != "WEBHOOKS_ALLOW_LOCAL"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**clean, "DJANGO_SETTINGS_MODULE": module, **env}, check=True)
    assert result.stdout.strip().splitlines()[-1] == expected
