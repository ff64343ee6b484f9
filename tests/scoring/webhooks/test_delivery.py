"""Delivery to a real receiver on the loopback: signatures, order, retries, giving up, the sweeper.

The sender is the real one (httpx over a socket); the receiver is ``scoring.webhooks.receiver``
checking every signature with the ``standardwebhooks`` library. The clock is moved with
time-machine over a shrunk retry schedule (``short_schedule``: attempts at 0, 1, 2, 3 s).
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from standardwebhooks.webhooks import Webhook

from scoring.webhooks import delivery
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookType
from scoring.webhooks.outbox import Record, webhook_record, webhooks_record
from scoring.webhooks.services import webhook_endpoint_enable, webhook_endpoint_set

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _record(partner_id: int, *names: str) -> None:
    webhooks_record(records=[Record(partner_id, WebhookType.EVENT_SCORED, {"external_id": n}) for n in names])


def _attempts(msg: WebhookMessage) -> list[tuple[int | None, bool]]:
    return [(a.status_code, a.ok) for a in msg.delivery_attempts.order_by("id")]


@pytest.mark.django_db
def test_a_webhook_arrives_signed_as_the_spec_says(acme, acme_endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        webhook_record(partner_id=acme.pk, type=WebhookType.EVENT_SCORED, data={"external_id": "card-1"})
    message = WebhookMessage.objects.get()
    [request] = receiver.requests
    assert request.verified is True
    assert request.headers["webhook-id"] == message.msg_id
    assert request.headers["content-type"] == "application/json"
    # The receiver's library verifies it, and so does anyone holding the secret.
    payload = Webhook(acme_endpoint.secret or "").verify(request.body, request.headers)
    assert payload == {"type": "event.scored", "timestamp": message.created_at.isoformat().replace("+00:00", "Z"),
                       "data": {"external_id": "card-1"}}
    # Signed with the endpoint's secret only: another secret does not verify it.
    other = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    with pytest.raises(Exception, match="No matching signature"):
        other.verify(request.body, request.headers)
    message.refresh_from_db()
    assert message.status == "delivered"
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.ok, attempt.error, attempt.url) == (200, True, "", receiver.url)
    assert attempt.response_excerpt == f'{{"received": "{message.msg_id}"}}'


@pytest.mark.django_db
def test_a_receiver_down_for_a_while_gets_every_webhook_after_it_returns_in_order_with_the_same_ids(
        acme, acme_endpoint, receiver, short_schedule, django_capture_on_commit_callbacks):
    receiver.status = 503
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _record(acme.pk, "a", "b", "c")
        first, second, third = WebhookMessage.objects.order_by("id")
        # Only the head was tried: the others wait behind it.
        assert [r.msg_id for r in receiver.requests] == [first.msg_id]
        assert delivery.webhooks_sweep() == 0  # not due yet: the next try is 1 s later

        clock.shift(timedelta(seconds=1.5))
        assert delivery.webhooks_sweep() == 1  # a 503 again
        receiver.stop()  # now not even listening
        clock.shift(timedelta(seconds=2.5))
        assert delivery.webhooks_sweep() == 1
        receiver.status = 200
        receiver.start()  # back, on the same port
        clock.shift(timedelta(seconds=3.5))
        assert delivery.webhooks_sweep() == 1

    assert [(r.msg_id, r.answered) for r in receiver.requests] == [
        (first.msg_id, 503), (first.msg_id, 503), (first.msg_id, 200), (second.msg_id, 200), (third.msg_id, 200)]
    assert [m.payload["data"]["external_id"] for m in receiver.messages() if m.payload] == ["a", "b", "c"]
    assert all(r.verified for r in receiver.requests)
    assert _attempts(first) == [(503, False), (503, False), (None, False), (200, True)]
    assert first.delivery_attempts.order_by("id")[2].error.startswith("ConnectError")
    assert _attempts(second) == [(200, True)]
    assert _attempts(third) == [(200, True)]
    assert list(WebhookMessage.objects.order_by("id").values_list("status", flat=True)) == ["delivered"] * 3


@pytest.mark.django_db
def test_after_the_last_retry_the_endpoint_is_disabled_operators_are_told_and_later_messages_wait(
        acme, acme_endpoint, receiver, short_schedule, settings, caplog, django_capture_on_commit_callbacks):
    settings.ADMINS = [("Ops", "ops@example.com")]
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _record(acme.pk, "a", "b")
        for wait in short_schedule[1:]:
            clock.shift(timedelta(seconds=wait + 0.5))
            with caplog.at_level(logging.ERROR, logger="scoring.webhooks.delivery"), \
                    django_capture_on_commit_callbacks(execute=True):
                delivery.webhooks_sweep()
    first, second = WebhookMessage.objects.order_by("id")
    assert (first.status, first.attempts) == ("failed", 4)
    assert _attempts(first) == [(500, False)] * 4
    assert (second.status, second.delivery_attempts.count()) == ("pending", 0)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.is_enabled is False
    assert endpoint.disabled_reason == (f"Disabled after the last of 4 attempts to deliver {first.msg_id} "
                                        "(event.scored) failed: HTTP 500.")
    [notice] = mail.outbox
    assert notice.to == ["ops@example.com"]
    assert notice.subject.endswith("Webhook endpoint of Acme Bank disabled")
    assert [r.levelname for r in caplog.records if "disabled" in r.getMessage()] == ["ERROR"]
    # Disabled: nothing is sent any more, but what happens meanwhile is still recorded.
    with django_capture_on_commit_callbacks(execute=True):
        _record(acme.pk, "c")
    third = WebhookMessage.objects.order_by("id").last()
    assert WebhookMessage.objects.count() == 3
    assert delivery.webhooks_sweep() == 0
    assert len(receiver.requests) == 4

    # An operator enables it again once the receiver answers: what waited goes out, in order.
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_endpoint_enable(endpoint_id=endpoint.pk, actor_name="admin:olga") is True
    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.status, third.status) == ("delivered", "delivered")
    assert [r.msg_id for r in receiver.requests[-2:]] == [second.msg_id, third.msg_id]


@pytest.mark.django_db
def test_the_sweeper_sends_what_a_crash_lost(acme, acme_endpoint, receiver):
    # Committed outbox rows whose after-commit delivery never ran (the worker died, the broker
    # was down): the callbacks are not executed here.
    _record(acme.pk, "a", "b")
    assert receiver.requests == []
    assert delivery.webhooks_sweep() == 1
    assert [m.payload["data"]["external_id"] for m in receiver.messages() if m.payload] == ["a", "b"]
    assert delivery.webhooks_sweep() == 0


@pytest.mark.django_db
def test_one_deliverer_per_partner_a_second_finds_the_queue_taken(acme, acme_endpoint, receiver):
    _record(acme.pk, "a")
    held = delivery._lease_take(acme.pk)
    assert held is not None
    assert delivery.webhooks_deliver(partner_id=acme.pk) == 0
    assert delivery.webhooks_sweep() == 0  # the holder delivers what is due before letting go
    assert receiver.requests == []
    delivery._lease_release(acme.pk, held)
    assert delivery.webhooks_deliver(partner_id=acme.pk) == 1


@pytest.mark.django_db
def test_redirects_are_not_followed(acme, acme_endpoint, receiver, short_schedule):
    receiver.status = 307
    receiver.location = receiver.url + "/elsewhere"
    _record(acme.pk, "a")
    delivery.webhooks_deliver(partner_id=acme.pk)
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.ok, attempt.error) == (307, False, "redirect not followed")
    assert [r.path for r in receiver.requests] == ["/webhooks"]


@pytest.mark.django_db
def test_a_long_response_is_read_only_up_to_the_cap(acme, acme_endpoint, receiver, settings):
    settings.WEBHOOKS_RESPONSE_MAX_BYTES = 10
    _record(acme.pk, "a")
    delivery.webhooks_deliver(partner_id=acme.pk)
    assert WebhookAttempt.objects.get().response_excerpt == '{"received'


@pytest.mark.django_db
def test_a_deliverer_that_died_holding_the_queue_is_replaced_once_its_lease_runs_out(acme, acme_endpoint, receiver):
    with time_machine.travel(T0, tick=False) as clock:
        _record(acme.pk, "a")
        assert delivery._lease_take(acme.pk) is not None  # a worker took the queue, then was killed
        assert delivery.webhooks_sweep() == 0
        clock.shift(delivery.LEASE + timedelta(seconds=1))
        assert delivery.webhooks_sweep() == 1
    assert [m.payload["data"]["external_id"] for m in receiver.messages() if m.payload] == ["a"]
    assert WebhookEndpoint.objects.get().lease_until is None


@pytest.fixture
def dripping() -> Iterator[str]:
    """A loopback server that answers a byte of its headers every 0.2 s, forever: each read
    arrives within any per-read timeout, so only a limit on the whole attempt ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: "):
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    stop.set()
    listener.close()
    thread.join(timeout=5)


@pytest.mark.django_db
def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_attempts_limit(acme, allow_local, dripping, settings,
                                                                           short_schedule):
    settings.WEBHOOKS_READ_TIMEOUT = 1.0
    settings.WEBHOOKS_ATTEMPT_SECONDS = 1.5
    webhook_endpoint_set(partner=acme, url=dripping, types=WebhookType.values, actor_name="test")
    _record(acme.pk, "a")
    delivery.webhooks_deliver(partner_id=acme.pk)
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.ok, attempt.error) == (None, False, "no complete answer within 1.5 s")
    assert 1500 <= attempt.latency_ms < 5000
    assert WebhookMessage.objects.get().attempts == 1  # retried on the schedule, like any failure
