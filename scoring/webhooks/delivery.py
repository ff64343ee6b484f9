"""Sending a partner's outbox: in order, at least once, retried on the Standard Webhooks schedule.

One deliverer at a time per partner holds the endpoint's lease (``lease_until``, taken with a
conditional update; a worker that dies lets it expire). It sends the partner's oldest pending
message (the head) when it is due; the next message waits until the head is delivered (a 2xx)
or given up. A failure schedules the next attempt ``WEBHOOKS_RETRY_SCHEDULE[n]`` seconds later;
after the last one the message is given up, the endpoint disabled and operators told
(``mail_admins`` and an ERROR line; the admin shows the reason). Every attempt is kept.

HTTP with httpx (well kept, typed, timeouts per phase, and a request extension to give TLS the
host's name while connecting to the address the guard checked — what makes a DNS-rebinding
check hold): never following redirects, reading at most ``WEBHOOKS_RESPONSE_MAX_BYTES`` of a
response, ignoring proxy variables (a proxy would resolve the host again). No transaction is
open while a request is in flight.

``webhooks_sweep`` (beat) starts a delivery for every partner whose head is due and nobody
delivers: what a lost task, a broker outage or a crash left, and every retry after the short ones
(those are also scheduled as countdown tasks). In embedded mode (no beat) a partner's retries go
out with its next message's delivery, or on ``webhooks_sweep`` run by hand.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from config.kernel import metrics
from config.kernel.after_commit import call_on_commit, enqueue_in, enqueue_now
from scoring.webhooks import signing
from scoring.webhooks.guard import UnsafeUrl, destinations, url_for_log
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookSecret
from scoring.webhooks.outbox import DELIVER_TASK
from scoring.webhooks.payloads import iso

logger = logging.getLogger(__name__)

#: How long a deliverer owns a partner's queue without renewing (renewed when half of it is left:
#: far longer than one attempt can take).
LEASE = timedelta(seconds=60)
#: Messages one task sends before handing over to a new task (keeps tasks short).
DELIVER_BATCH = 100
#: Retries due within this many seconds are also sent as a countdown task, not only by the sweeper.
SHORT_RETRY_SECONDS = 60
#: Characters of an error kept on an attempt.
ERROR_MAX = 500
USER_AGENT = "Credo-Webhooks/1"
_SECRET_LIKE = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def body_of(message: WebhookMessage) -> bytes:
    """The request body: ``{type, timestamp, data}`` (the timestamp is when the message was
    recorded; the ``webhook-timestamp`` header is the attempt's)."""
    return json.dumps({"type": message.type, "timestamp": iso(message.created_at), "data": message.data},
                      separators=(",", ":"), ensure_ascii=False).encode()


def live_secrets(*, endpoint_id: int, now: datetime) -> list[str]:
    """The endpoint's secrets that sign now, newest first."""
    sealed = WebhookSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now),
                                          endpoint_id=endpoint_id).values_list("secret_encrypted", flat=True)
    return [signing.secret_open(s) for s in sealed]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    ok: bool
    error: str
    excerpt: str


def _excerpt(raw: bytes) -> str:
    return _SECRET_LIKE.sub("whsec_[redacted]", raw.decode("utf-8", errors="replace"))


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (≈ 20 ms each time otherwise)."""
    return ssl.create_default_context()


def http_client() -> httpx.Client:
    """A client for one run of deliveries: short timeouts, no redirects, no proxy variables."""
    timeout = httpx.Timeout(settings.WEBHOOKS_READ_TIMEOUT, connect=settings.WEBHOOKS_CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls())


def attempt_send(*, client: httpx.Client, url: str, message: WebhookMessage, secrets_: list[str]) -> Outcome:
    """One POST of ``message`` to ``url``, signed with every live secret, to the first of the
    host's (checked) addresses that takes the connection. Never raises for anything the receiver
    or the network does: that is the outcome."""
    try:
        options = destinations(url)
    except UnsafeUrl as exc:
        return Outcome(None, 0, False, f"refused: {exc.detail}"[:ERROR_MAX], "")
    if not secrets_:
        return Outcome(None, 0, False, "no live secret to sign with", "")
    sent_at = timezone.now()
    body = body_of(message)
    first = options[0]
    default_port = 443 if first.scheme == "https" else 80
    headers = {
        "host": first.host if first.port == default_port else f"{first.host}:{first.port}",
        "content-type": "application/json",
        "accept-encoding": "identity",  # the excerpt is read raw: no compressed (or bomb-sized) answers
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signing.signature_header(secrets_=secrets_, msg_id=message.msg_id, timestamp=sent_at,
                                                      body=body),
    }
    started = time.monotonic()
    failure: Outcome | None = None
    limit = settings.WEBHOOKS_ATTEMPT_SECONDS
    for destination in options:
        try:
            with _deadline(max(0.001, limit - (time.monotonic() - started))), \
                    client.stream("POST", destination.pinned_url(), content=body, headers=headers,
                                  extensions={"sni_hostname": destination.host}) as response:
                latency = int((time.monotonic() - started) * 1000)
                raw = b""
                for chunk in response.iter_raw():
                    raw += chunk
                    if len(raw) >= settings.WEBHOOKS_RESPONSE_MAX_BYTES:
                        break
                raw = raw[: settings.WEBHOOKS_RESPONSE_MAX_BYTES]
        except _TimeUp:
            latency = int((time.monotonic() - started) * 1000)
            return Outcome(None, latency, False, f"no complete answer within {limit:g} s", "")
        except Exception as exc:  # whatever the receiver or the network did (an IDNA host too) is the outcome
            latency = int((time.monotonic() - started) * 1000)
            failure = Outcome(None, latency, False, f"{type(exc).__name__}: {exc}"[:ERROR_MAX], "")
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                continue  # this address does not answer: the host's next one may (IPv6, then IPv4)
            return failure
        ok = 200 <= response.status_code < 300
        error = "" if ok else ("redirect not followed" if response.is_redirect else f"HTTP {response.status_code}")
        return Outcome(response.status_code, latency, ok, error, _excerpt(raw))
    assert failure is not None
    return failure


class _TimeUp(Exception):
    """An attempt's wall-clock limit passed (``_deadline``)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A wall-clock limit on one attempt. httpx's timeouts are per read: a receiver that drips a
    byte every few seconds would otherwise hold a worker, and with it everyone's scoring, for
    hours. SIGALRM, so only in a process's main thread — where Celery's prefork workers run their
    tasks; elsewhere (embedded mode's in-process tasks) the per-read timeouts alone apply."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def time_up(signum: int, frame: object) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, time_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the lease ---------------------------------------------------------------------------------------


def _lease_take(partner_id: int) -> datetime | None:
    now = timezone.now()
    until = now + LEASE
    taken = WebhookEndpoint.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), partner_id=partner_id, is_enabled=True,
    ).update(lease_until=until)
    return until if taken else None


def _lease_renew(partner_id: int, held: datetime) -> datetime | None:
    until = timezone.now() + LEASE
    renewed = WebhookEndpoint.objects.filter(partner_id=partner_id, lease_until=held).update(lease_until=until)
    return until if renewed else None


def _lease_release(partner_id: int, held: datetime) -> None:
    WebhookEndpoint.objects.filter(partner_id=partner_id, lease_until=held).update(lease_until=None)


def _head(partner_id: int) -> WebhookMessage | None:
    return WebhookMessage.objects.filter(partner_id=partner_id, status=WebhookMessage.Status.PENDING).order_by(
        "id").first()


def _head_due(partner_id: int, now: datetime) -> bool:
    head = _head(partner_id)
    return head is not None and head.next_attempt_at <= now


# --- delivering ---------------------------------------------------------------------------------------


def webhooks_deliver(*, partner_id: int, limit: int = DELIVER_BATCH) -> int:
    """Send the partner's due messages in order until one fails or none is due; returns how
    many were delivered. Does nothing when another deliverer holds the partner's lease (it
    sends what is due before letting go) or the endpoint is disabled."""
    delivered = 0
    while True:
        held = _lease_take(partner_id)
        if held is None:
            return delivered
        retry_in: float | None = None
        more = False
        run = _Run(client=http_client())
        try:
            for _ in range(limit):
                step = _deliver_head(partner_id, run)
                if step is None:
                    break
                if step is not True:
                    retry_in = step
                    break
                delivered += 1
                if held - timezone.now() < LEASE / 2:  # renewed now and then, not per message
                    renewed = _lease_renew(partner_id, held)
                    if renewed is None:  # the lease expired meanwhile: someone else delivers now
                        return delivered
                    held = renewed
            else:
                more = True
        finally:
            run.client.close()
            _lease_release(partner_id, held)
        if more:  # a full batch: the rest in a fresh task
            enqueue_now(DELIVER_TASK, partner_id)
            return delivered
        if retry_in is not None:
            if retry_in <= SHORT_RETRY_SECONDS:
                enqueue_in(retry_in, DELIVER_TASK, partner_id)
            return delivered
        # A message recorded while we held the lease found it taken and left its delivery to us.
        if not _head_due(partner_id, timezone.now()):
            return delivered


@dataclass
class _Run:
    """What one run of deliveries reuses: its HTTP client (connections, TLS context) and the
    endpoint's live secrets (read once; a rotation meanwhile keeps the old one live anyway)."""

    client: httpx.Client
    secrets: list[str] | None = None


def _deliver_head(partner_id: int, run: _Run) -> bool | float | None:
    """Attempt the partner's head message if due. True: delivered or given up (go on); a number:
    failed, the next attempt in that many seconds; None: nothing due (or endpoint disabled)."""
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.filter(partner_id=partner_id, is_enabled=True).order_by("pk").first()
    head = _head(partner_id)
    if endpoint is None or head is None or head.next_attempt_at > now:
        return None
    if run.secrets is None:
        run.secrets = live_secrets(endpoint_id=endpoint.pk, now=now)
    outcome = attempt_send(client=run.client, url=endpoint.url, message=head, secrets_=run.secrets)
    metrics.WEBHOOK_ATTEMPTS.labels(outcome="delivered" if outcome.ok else "failed").inc()
    return _attempt_record(endpoint=endpoint, message_id=head.pk, outcome=outcome, attempted_at=now)


@transaction.atomic
def _attempt_record(*, endpoint: WebhookEndpoint, message_id: int, outcome: Outcome,
                    attempted_at: datetime) -> bool | float:
    message = WebhookMessage.objects.select_for_update().get(pk=message_id)
    WebhookAttempt.objects.create(
        message=message, partner_id=message.partner_id, url=endpoint.url, attempted_at=attempted_at,
        status_code=outcome.status_code, latency_ms=outcome.latency_ms, ok=outcome.ok, error=outcome.error,
        response_excerpt=outcome.excerpt, triggered_by=message.replayed_by)
    message.replayed_by = ""
    if message.status != WebhookMessage.Status.PENDING:
        # Settled meanwhile by a deliverer that took over an expired lease: the attempt is kept, the
        # outcome already known stays.
        message.save(update_fields=["replayed_by"])
        return True
    if outcome.ok:
        message.status = WebhookMessage.Status.DELIVERED
        message.delivered_at = timezone.now()
        message.save(update_fields=["status", "delivered_at", "replayed_by"])
        return True
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    message.attempts += 1
    if message.attempts < len(schedule):
        wait = float(schedule[message.attempts])
        message.next_attempt_at = timezone.now() + timedelta(seconds=wait)
        message.save(update_fields=["attempts", "next_attempt_at", "replayed_by"])
        return wait
    message.status = WebhookMessage.Status.FAILED
    message.save(update_fields=["attempts", "status", "replayed_by"])
    metrics.WEBHOOK_MESSAGES_FAILED.inc()
    reason = (f"Disabled after the last of {len(schedule)} attempts to deliver {message.msg_id} ({message.type}) "
              f"failed: {outcome.error or outcome.status_code}.")
    endpoint_disable(endpoint_id=endpoint.pk, reason=reason)
    return True


def endpoint_disable(*, endpoint_id: int, reason: str) -> bool:
    """Disable the endpoint (in the caller's transaction) and tell operators after the commit.
    False if it was disabled already."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_enabled=True).update(
        is_enabled=False, disabled_at=now, disabled_reason=reason)
    if changed:
        endpoint = WebhookEndpoint.objects.select_related("partner").get(pk=endpoint_id)
        call_on_commit(_operators_tell, partner=endpoint.partner.name, url=endpoint.url, reason=reason)
    return bool(changed)


def _operators_tell(*, partner: str, url: str, reason: str) -> None:
    url = url_for_log(url)
    logger.error("webhook endpoint of %s (%s) disabled: %s", partner, url, reason)
    mail_admins(f"Webhook endpoint of {partner} disabled",
                f"The webhook endpoint of {partner} ({url}) was disabled.\n\n{reason}\n\n"
                "Its messages wait in the outbox: enable it again in the admin once the partner's receiver "
                "answers, and they go out in order.", fail_silently=True)


def webhooks_sweep(*, now: datetime | None = None) -> int:
    """Start a delivery for each partner whose head message is due, whose endpoint is enabled and
    whose queue nobody holds. Returns how many deliveries it started."""
    now = now or timezone.now()
    heads = (WebhookMessage.objects.filter(status=WebhookMessage.Status.PENDING).order_by()
             .values("partner_id").annotate(head=Min("id")).values_list("head", flat=True))
    due = sorted(set(WebhookMessage.objects.filter(
        pk__in=list(heads), next_attempt_at__lte=now, partner__webhook_endpoint__is_enabled=True,
    ).filter(Q(partner__webhook_endpoint__lease_until__isnull=True)
             | Q(partner__webhook_endpoint__lease_until__lt=now)).values_list("partner_id", flat=True)))
    for partner_id in due:
        enqueue_now(DELIVER_TASK, partner_id)
    if due:
        logger.info("webhook sweep: delivering for %d partner(s)", len(due))
    return len(due)
