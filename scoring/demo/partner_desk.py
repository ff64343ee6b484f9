"""The demo partners' dispute desk: ``manage.py simulate`` plays partners that receive webhooks
and answer their members' disputes, so the demo world shows the whole loop (DESIGN.md §8, §10).

* Each demo partner configures its webhook endpoint over the signed API (``PUT
  partner/webhook/``, or ``POST partner/webhook/rotate/`` for a fresh secret when a previous run
  configured it) to one receiver on the loopback (``scoring.webhooks.receiver``, which verifies
  the Standard Webhooks signatures), subscribed to ``event.disputed`` and ``dispute.resolved``.
  Loopback endpoints are refused outside development (``WEBHOOKS_ALLOW_LOCAL``): then the desk says
  so in one line and the simulator sends events only.
* Now and then a member of the world disputes one of their events (``dispute_open``, the
  service behind the events page), preferring a missed payment — never the demo login's own.
* On ``event.disputed`` the partner answers over the signed API (``POST
  partner/events/{external_id}/dispute-response/``), drawn from a seeded ``random.Random``:
  ``withdrawn`` (the event is reversed), ``corrected`` (for an event this run sent, whose facts
  it knows: a missed or late payment paid on its due date, else the amount 10 % lower) or
  ``confirmed`` (the moderators decide, the partner's note beside the member's).

Everything is counted in the simulator's summary line; nothing prints per message (``make run``
stays quiet).
"""

from __future__ import annotations

import json
import queue
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config.kernel.errors import DomainError
from scoring.ingestion.models import Event
from scoring.ingestion.partners import sign
from scoring.moderation.services import dispute_open
from scoring.webhooks.receiver import Received, Receiver

#: What the desk listens to.
TYPES = ["event.disputed", "dispute.resolved"]
#: Verdict odds for an event the partner knows the facts of (sent in this run) / does not.
KNOWN_ODDS = {"withdrawn": 0.4, "corrected": 0.3, "confirmed": 0.3}
UNKNOWN_ODDS = {"withdrawn": 0.5, "confirmed": 0.5}
NOTES = {
    "withdrawn": "We checked our records: this was reported by mistake.",
    "corrected": "We checked our records and corrected the details.",
    "confirmed": "Our records show this as reported; statement on file.",
}
REASONS = ["I paid this on time.", "This is not my account.", "The amount is wrong.",
           "I never received this bill."]


def _call(url: str, path: str, method: str, key_id: str, secret: str, payload: dict[str, Any] | None = None,
          timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """One signed request of a partner (a body signs its bytes; a GET signs its path)."""
    body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else None
    stamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - the operator's own server
        url.rstrip("/") + path, data=body, method=method,
        headers={"Content-Type": "application/json", "X-Credo-Key": key_id, "X-Credo-Timestamp": str(stamp),
                 "X-Credo-Signature": sign(secret, stamp, body if body is not None else path.encode())})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


@dataclass
class DeskReport:
    opened: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        if not (self.opened or self.answers or self.refused):
            return ""
        answered = ", ".join(f"{n} {v}" for v, n in sorted(self.answers.items())) or "none yet"
        text = f"disputes: {self.opened} opened, answered {answered}, {self.resolved} resolved"
        if self.refused:
            text += " (" + ", ".join(f"{code} ×{n}" for code, n in self.refused.most_common()) + ")"
        return text


class PartnerDesk:
    """The demo partners' webhook receiver and dispute answers (see the module)."""

    def __init__(self, *, url: str, partners: list[Any], demo_member: str, seed: int) -> None:
        self.url = url
        self.partners = {p.slug: p for p in partners}
        self.demo_member = demo_member
        self.rng = random.Random(seed * 7919 + 1)
        self.sent: dict[str, dict[str, Any]] = {}  # external_id → the payload this run sent
        self.inbox: queue.Queue[tuple[str, str]] = queue.Queue()
        self.report = DeskReport()
        self.receiver: Receiver | None = None

    def start(self) -> str:
        """Listen and configure every partner's endpoint; a line saying what happened."""
        receiver = Receiver(on_message=self._on_message).start()
        for slug, creds in self.partners.items():
            status, body = _call(self.url, "/api/v1/partner/webhook/", "PUT", creds.key_id, creds.secret,
                                 {"url": f"{receiver.url}/{slug}", "events": TYPES})
            if status == 200 and not body.get("secret"):  # configured by an earlier run: a fresh secret
                status, body = _call(self.url, "/api/v1/partner/webhook/rotate/", "POST", creds.key_id,
                                     creds.secret, {})
            if status != 200 or not body.get("secret"):
                receiver.stop()
                return (f"webhooks off ({body.get('code', status)}): loopback endpoints need development "
                        "settings (WEBHOOKS_ALLOW_LOCAL); sending events only")
            receiver.secrets.append(body["secret"])
        self.receiver = receiver
        return f"partners receive webhooks at {receiver.url} and answer disputes"

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()

    def _on_message(self, received: Received) -> None:
        # The receiver's thread: hand over and answer at once (the answer is sent from the loop).
        payload = received.payload or {}
        data = payload.get("data") or {}
        slug = received.path.rstrip("/").rsplit("/", 1)[-1]
        if payload.get("type") == "event.disputed" and slug in self.partners:
            self.inbox.put((slug, str(data.get("external_id", ""))))
        elif payload.get("type") == "dispute.resolved":
            self.report.resolved += 1

    def remember(self, payload: dict[str, Any]) -> None:
        self.sent[payload["external_id"]] = payload

    def dispute_one(self) -> None:
        """A member of the world (never the demo login) disputes one of their scored, undisputed
        events, a missed payment when they have one."""
        if self.receiver is None:
            return
        candidates = (Event.objects.filter(status=Event.Status.SCORED, partner__slug__in=list(self.partners),
                                           disputes__isnull=True)
                      .exclude(member__username=self.demo_member).order_by("-missed", "-received_at"))
        event = candidates.select_related("member").first()
        if event is None:
            return
        try:
            dispute_open(member=event.member, event_id=event.pk, reason=self.rng.choice(REASONS))
            self.report.opened += 1
        except DomainError as exc:  # refused (the open-disputes cap, a race): counted, never fatal
            self.report.refused[exc.code] += 1

    def answer_waiting(self) -> None:
        """Answer every dispute announced since the last call."""
        while True:
            try:
                slug, external_id = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._answer(slug, external_id)

    def _answer(self, slug: str, external_id: str) -> None:
        creds = self.partners[slug]
        known = self.sent.get(external_id)
        odds = KNOWN_ODDS if known else UNKNOWN_ODDS
        verdict = self.rng.choices(list(odds), weights=list(odds.values()))[0]
        body: dict[str, Any] = {"verdict": verdict, "note": NOTES[verdict]}
        if verdict == "corrected" and known is not None:
            body["corrected"] = correction(known)
        path = f"/api/v1/partner/events/{urllib.parse.quote(external_id, safe='')}/dispute-response/"
        status, answer = _call(self.url, path, "POST", creds.key_id, creds.secret, body)
        if status == 200:
            self.report.answers[verdict] += 1
        else:
            self.report.refused[str(answer.get("code", status))] += 1


def correction(sent: dict[str, Any]) -> dict[str, Any]:
    """The corrected facts of an event this partner sent: a missed or late payment was paid on
    its due date; anything else was 10 % less."""
    if sent.get("missed"):
        return {"missed": False, "paid_date": sent["due_date"]}
    if sent.get("paid_date") and sent.get("due_date") and sent["paid_date"] > sent["due_date"]:
        return {"paid_date": sent["due_date"]}
    amount = (Decimal(sent["amount"]) * Decimal("0.9")).quantize(Decimal("0.01"))
    fixed: dict[str, Any] = {"amount": str(max(amount, Decimal("0.01")))}
    if sent.get("amount_paid") is not None:
        fixed["amount_paid"] = str(min(Decimal(sent["amount_paid"]), Decimal(fixed["amount"])))
    return fixed
