"""Live partner traffic for the demo world: ``manage.py simulate``.

The simulator is an outside partner: it sends NEW events for the demo world's members through
the real signed ingestion API over HTTP (``POST /api/v1/events/``), with the demo partners'
keys that ``seed_demo`` wrote to ``.demo-partners.json`` — so every event takes the production
path (signature, idempotency, validation, consent, outbox, scoring, ledger, contagion, boards).

What it sends (a seeded ``random.Random``: the same ``--seed`` gives the same sequence):

* whom: ``FRIEND_SHARE`` of the events go to the demo member's friends and ``DEMO_SHARE`` to the
  demo member, so the demo login's friends board moves within seconds; the rest to any member;
* what: purchases (ShopMart), card repayments (Acme Bank) and bill payments (CityPower), at a
  pace a member could live: a member makes at most ONE card repayment and ONE bill payment a
  calendar month (one statement each, for this month's due date); once both are sent, every
  further event for them is a purchase until next month. So ten minutes of traffic move a
  member's score by one statement's worth at most, not by months of payments;
* how late: a month of the member's own UCI row (``scoring.demo.uci``, found through the
  ``uci-<ID>`` in their seeded events' ids) is drawn, and its repayment status decides —
  duly paid or revolving: paid today, on or before this month's due date (the 15th; a revolver
  pays part of a bill); k months late: paid today against the due date k months back; 3+ months
  late: reported missed (due at least ``MISSED_AFTER_DAYS`` ago). Bills are also missed now and
  then (``MISSED_BILL_ODDS``). Amounts follow the row's statements (EUR, like seeding).

The partners also receive webhooks and answer every dispute of their events
(``scoring.demo.partner_desk``), so the loop shows in the demo: dispute an event on the demo
login's events page and see the partner's answer there within seconds; with ``--dispute-every`` the
world's members dispute now and then too (the moderators' queue fills with confirmed ones).

Each request carries its own ``Idempotency-Key`` (the event's ``external_id``, unique per run),
so a retry after a connection error or a 5xx can never store an event twice. Connection errors
are retried with exponential backoff (also while the server is still starting); the run stops
cleanly on Ctrl-C / SIGTERM, after ``--duration`` seconds or ``--count`` events.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from accounts.members.models import User
from scoring.demo.partner_desk import DeskReport, PartnerDesk
from scoring.demo.uci import DUE_DAY, TWD_PER_EUR, UciRow, iter_rows
from scoring.demo.world import DEFAULT_CREDIT, DEMO_MEMBER, DEMO_PARTNERS, MISSED_AFTER_DAYS
from scoring.ingestion.models import Event, PartnerConsent
from scoring.ingestion.partners import sign
from social.graph.selectors import friend_ids

FRIEND_SHARE = 0.4
DEMO_SHARE = 0.05
KIND_WEIGHTS = {"purchase": 0.45, "card_repayment": 0.3, "bill_payment": 0.25}
MISSED_BILL_ODDS = 0.02
#: With ``--dispute-every N``, a member of the world disputes one of their events every N events sent.
#: Off by default: each answer notifies the member, and the console email backend of ``make run``
#: would print an email every few seconds; the partners answer every dispute either way (the demo
#: login's, from its events page).
DISPUTE_EVERY = 0
#: Backoff between retries of one request: 0.5 s doubling up to this many seconds.
MAX_BACKOFF = 8.0
#: Retries of a request answered 5xx / 409 (in flight) before it counts as failed.
MAX_SERVER_RETRIES = 5
ENDPOINT = "/api/v1/events/"
#: A member with no UCI row (joined by hand) pays like a client who always paid duly.
ON_TIME_ROW = UciRow(id=0, pay_status=(-1,) * 6, bill=(4000,) * 6, paid=(4000,) * 6, default=False)


@dataclass(frozen=True)
class PartnerCredentials:
    slug: str
    name: str
    kind: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class SimMember:
    username: str
    row: UciRow


@dataclass
class SimReport:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    disputes: DeskReport | None = None

    def line(self) -> str:
        text = (f"{self.sent} sent: {self.accepted} accepted, {self.duplicates} duplicates, "
                f"{self.rejected} rejected, {self.failed} failed ({self.retries} retries)")
        if self.codes:
            text += " — rejections: " + ", ".join(f"{code} ×{n}" for code, n in self.codes.most_common())
        return text


def partners_load(path: Path) -> tuple[dict[str, PartnerCredentials], str]:
    """The demo partners' credentials by event kind, and the demo member's username."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `manage.py seed_demo` first (it writes the partners' keys).")
    data = json.loads(path.read_text())
    creds = {
        p["kind"]: PartnerCredentials(slug=p["slug"], name=p["name"], kind=p["kind"], key_id=p["key_id"],
                                      secret=p["secret"])
        for p in data["partners"]
    }
    missing = {p.kind for p in DEMO_PARTNERS} - set(creds)
    if missing:
        raise ValueError(f"{path} has no partner for {', '.join(sorted(missing))}: run `manage.py seed_demo`.")
    return creds, data.get("demo_member", DEMO_MEMBER)


def members_load(*, demo_member: str, credit_path: str | Path = DEFAULT_CREDIT) -> tuple[list[SimMember], list[str]]:
    """Members every demo partner may send events for (live consent, active), each with their
    UCI row; and the demo member's friends among them. Reads the database once."""
    slugs = [p.slug for p in DEMO_PARTNERS]
    consents = Counter(
        PartnerConsent.objects.filter(partner__slug__in=slugs, revoked_at__isnull=True, member__is_active=True)
        .values_list("member__username", flat=True)
    )
    usernames = sorted(name for name, n in consents.items() if n == len(slugs))
    # The seeded events' external ids name the member's UCI row: demo-<username>-uci-<ID>-...
    row_ids: dict[str, int] = {}
    for username, ext in (Event.objects.filter(member__username__in=usernames, external_id__startswith="demo-",
                                               kind="card_repayment")
                          .values_list("member__username", "external_id")):
        prefix = f"demo-{username}-uci-"
        if username not in row_ids and ext.startswith(prefix):
            row_ids[username] = int(ext[len(prefix):].split("-", 1)[0])
    wanted = set(row_ids.values())
    rows = {row.id: row for row in iter_rows(credit_path) if row.id in wanted} if wanted else {}
    members = [SimMember(name, rows.get(row_ids.get(name, -1), ON_TIME_ROW)) for name in usernames]
    demo = User.objects.filter(username=demo_member).first()
    friends: list[str] = []
    if demo is not None:
        ids = friend_ids(member_id=demo.pk)
        friends = sorted(set(User.objects.filter(pk__in=ids).values_list("username", flat=True)) & set(usernames))
    return members, friends


def _months_back(today: date, months: int) -> tuple[int, int]:
    """(year, month) ``months`` calendar months before ``today``'s."""
    index = today.year * 12 + today.month - 1 - months
    return index // 12, index % 12 + 1


def _eur(amount_twd: float) -> Decimal:
    return max(Decimal("1.00"), (Decimal(str(amount_twd)) / TWD_PER_EUR).quantize(Decimal("0.01")))


class EventStream:
    """An endless, seeded stream of (kind, payload, description) for the world's members."""

    def __init__(self, *, members: list[SimMember], friends: list[str], demo_member: str, seed: int,
                 run_id: str) -> None:
        if not members:
            raise ValueError("No members to simulate: run `manage.py seed_demo` first.")
        self.rng = random.Random(seed)
        self.members = members
        self.by_name = {m.username: m for m in members}
        self.friends = [name for name in friends if name in self.by_name]
        self.demo_member = demo_member if demo_member in self.by_name else None
        self.run_id = run_id
        self.count = 0
        #: (member, kind, month) of the repayments sent: one per member and kind a month.
        self.paid: set[tuple[str, str, tuple[int, int]]] = set()

    def _member(self) -> SimMember:
        roll = self.rng.random()
        if self.demo_member and roll < DEMO_SHARE:
            return self.by_name[self.demo_member]
        if self.friends and roll < DEMO_SHARE + FRIEND_SHARE:
            return self.by_name[self.rng.choice(self.friends)]
        return self.rng.choice(self.members)

    def next(self, *, now: datetime | None = None) -> tuple[str, dict[str, Any], str]:
        rng = self.rng
        now = now or datetime.now(UTC)
        today = now.date()
        member = self._member()
        row = member.row
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        month = rng.randrange(6)
        status = row.pay_status[month]
        # One statement a month: a member makes at most one card repayment and one bill payment
        # a month (for this month's due date, or k months back when k months late); once both
        # are sent, the member only shops until next month's due date.
        due_month = _months_back(today, max(status, 0))
        if kind != "purchase":
            if (member.username, kind, _months_back(today, 0)) in self.paid:
                kind = "purchase"
            else:
                self.paid.add((member.username, kind, _months_back(today, 0)))
        self.count += 1
        payload: dict[str, Any] = {
            "member": member.username, "kind": kind, "currency": "EUR",
            "occurred_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "external_id": f"sim-{self.run_id}-{self.count:06d}",
        }
        if kind == "purchase":
            spend = max(row.bill[month], row.paid[month], 400)
            payload["amount"] = str(_eur(spend / rng.randint(3, 12)))
            return kind, payload, f"purchase {payload['amount']} EUR"
        statement = row.bill[month]
        amount = _eur(statement) if kind == "card_repayment" and statement > 0 else _eur(rng.uniform(1000, 7000))
        payload["amount"] = str(amount)
        missed = status >= 3 or (kind == "bill_payment" and rng.random() < MISSED_BILL_ODDS)
        due = date(*due_month, DUE_DAY)
        if missed:
            payload["due_date"] = min(due, today - timedelta(days=MISSED_AFTER_DAYS)).isoformat()
            payload["missed"] = True
            return kind, payload, f"{kind.replace('_', ' ')} missed"
        if status <= 0:
            due = max(due, today)  # paid on or before this month's due date
        late = max(0, (today - due).days)
        payload["due_date"] = due.isoformat()
        payload["paid_date"] = today.isoformat()
        if kind == "bill_payment" and status == 0:
            # A revolver pays part of the statement (the minimum, or a bit more).
            payload["amount_paid"] = str(max(Decimal("0.01"), (amount * Decimal(str(rng.uniform(0.1, 0.6))))
                                             .quantize(Decimal("0.01"))))
        what = "on time" if not late else f"{late} days late"
        return kind, payload, f"{kind.replace('_', ' ')} {what}"


class Stopped(Exception):
    pass


def post_signed(url: str, creds: PartnerCredentials, payload: dict[str, Any], *, idempotency_key: str,
                timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """POST one signed event; (HTTP status, JSON body). A response replayed for an
    Idempotency-Key already answered gets ``"replayed": true`` in the body. Raises OSError when
    the server is unreachable (the caller retries)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
        url.rstrip("/") + ENDPOINT, data=body, method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Credo-Key": creds.key_id,
            "X-Credo-Timestamp": str(stamp),
            "X-Credo-Signature": sign(creds.secret, stamp, body),
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read() or b"{}")
            if response.headers.get("Idempotent-Replayed") == "true":
                body["replayed"] = True
            return response.status, body
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"code": "http_error", "detail": raw[:200].decode(errors="replace")}


def run(
    *, url: str, partners_file: Path, rate: float = 2.0, duration: float | None = None, count: int | None = None,
    seed: int = 1, run_id: str | None = None, every: int = 20, credit_path: str | Path = DEFAULT_CREDIT,
    stop: threading.Event | None = None, write: Callable[[str], None] = print, watch_parent: bool = False,
    handle_signals: bool = False, dispute_every: int = DISPUTE_EVERY,
) -> SimReport:
    """Send events until ``stop`` is set, ``duration`` seconds passed or ``count`` were sent. The
    partners answer the disputes of their events (``scoring.demo.partner_desk``); every
    ``dispute_every`` events (0: never) a member of the world disputes one of theirs."""
    stop = stop or threading.Event()
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    creds, demo_member = partners_load(partners_file)
    members, friends = members_load(demo_member=demo_member, credit_path=credit_path)
    run_id = run_id or f"{int(time.time()):x}"
    stream = EventStream(members=members, friends=friends, demo_member=demo_member, seed=seed, run_id=run_id)
    write(f"[simulate] {len(members)} members ({len(friends)} friends of {demo_member}), {rate:g} events/s "
          f"to {url}, run {run_id}, seed {seed}; Ctrl-C stops")
    desk = PartnerDesk(url=url, partners=list(creds.values()), demo_member=demo_member, seed=seed)
    desk_started = False
    parent = os.getppid()
    report = SimReport()
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0

    def should_stop() -> bool:
        if watch_parent and os.getppid() != parent:
            stop.set()  # whoever started us is gone: so is the server we feed
        return stop.is_set() or (duration is not None and time.monotonic() - started >= duration)

    last = ""
    next_at = started
    while not should_stop() and (count is None or report.sent < count):
        kind, payload, description = stream.next()
        try:
            status, body = _deliver(url, creds[kind], payload, report=report, should_stop=should_stop)
        except Stopped:
            break
        report.sent += 1
        if not desk_started and status in (200, 201):  # the server answers: configure the webhooks
            desk_started = True
            write(f"[simulate] {desk.start()}")
        desk.remember(payload)
        if desk.receiver is not None and dispute_every and report.sent % dispute_every == 0:
            desk.dispute_one()
        desk.answer_waiting()
        if status in (200, 201) and (body.get("duplicate") or body.get("replayed")):
            report.duplicates += 1
        elif status in (200, 201):
            report.accepted += 1
        elif status >= 500 or status == 409:
            report.failed += 1
            report.codes[str(body.get("code", status))] += 1
        else:
            report.rejected += 1
            report.codes[str(body.get("code", status))] += 1
        last = f"{payload['member']}: {description}"
        if every and report.sent % every == 0:
            disputes = desk.report.line()
            write(f"[simulate] {report.line()} · last: {last}" + (f" · {disputes}" if disputes else ""))
        # Pace: one event per interval, without drift; after a stall (server restarting) carry on
        # at the rate from now rather than sending the backlog in a burst.
        next_at = max(next_at + interval, time.monotonic())
        while not should_stop() and (remaining := next_at - time.monotonic()) > 0:
            stop.wait(min(remaining, 0.2))
    report.elapsed = time.monotonic() - started
    desk.answer_waiting()
    desk.stop()
    report.disputes = desk.report
    disputes = desk.report.line()
    write(f"[simulate] stopped after {report.elapsed:.1f} s: {report.line()}" + (f" · {disputes}" if disputes else ""))
    return report


def _deliver(url: str, creds: PartnerCredentials, payload: dict[str, Any], *, report: SimReport,
             should_stop: Callable[[], bool]) -> tuple[int, dict[str, Any]]:
    """One event, retried with backoff on connection errors (until stopped) and on 5xx / 409
    (``MAX_SERVER_RETRIES`` times). The same Idempotency-Key every time: never stored twice."""
    key = payload["external_id"]
    backoff = 0.5
    server_retries = 0
    while True:
        try:
            status, body = post_signed(url, creds, payload, idempotency_key=key)
        except OSError:
            status, body = 0, {}
        if status == 0 or ((status >= 500 or status == 409) and server_retries < MAX_SERVER_RETRIES):
            server_retries += status != 0
            report.retries += 1
            deadline = time.monotonic() + backoff
            while time.monotonic() < deadline:
                if should_stop():
                    raise Stopped
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            backoff = min(MAX_BACKOFF, backoff * 2)
            continue
        return status, body
