"""On-time streaks: how many months in a row a member paid their cards and bills on time.

Definitions (the dashboard, the API and the streak badges all use these):

* **Payments** are the member's *scored* card repayments and bill payments. Pending, failed and
  reversed events do not count, nor do purchases.
* A payment is **on time** when it was not missed, was paid in full (no ``amount_paid`` below
  ``amount``) and its *payment day* is on or before its ``due_date`` (no due date: on time, as in
  the score model). Anything else (missed, paid a day or more late, paid only in part) is
  **not on time**.
* The **payment day** is ``paid_date``: the calendar date the partner reports, taken as the
  member's own local date and never converted. Only when an event has no ``paid_date`` (the
  model allows it; ingestion does not) is it the date of ``occurred_at`` in the member's time
  zone, so a payment made at 23:30 local on its due date is on time wherever the server is.
* Months are calendar months of the member's time zone (``User.timezone``, an IANA name;
  unknown → UTC). An on-time payment counts in the month of its payment day. A payment that is
  not on time **spoils** the month of its due date (the month the obligation was failed; no due
  date: the month of its payment day), whenever it was reported.
* A month is **kept** when it has at least one on-time payment and is not spoiled.
* The **current streak** is the number of consecutive kept months ending with this month (if it
  is already kept) or with last month (this month is still open: it breaks nothing until it
  ends). A spoiled current month, or a last month that was not kept while this one is not kept
  yet, makes it 0. The **best streak** is the longest run of consecutive kept months ever
  (the current one included).
* The streak **breaks on** the first day of the month after the first month that is not kept
  yet: with a streak through last month, on the 1st of next month unless a payment is made on
  time this month (``keep_by`` = the last day of this month); with this month already kept, on
  the 1st of the month after next. All dates are the member's local dates, so "today" is their
  date, not the server's: travelling or paying near midnight moves nothing by a day.

``member_streak`` is the selector (one query), ``members_streaks`` the same for many members at
once (one query); ``streak_from`` the pure computation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from accounts.members.models import User
from scoring.ingestion.models import Event

UTC = ZoneInfo("UTC")

#: Months shown in ``Streak.months`` (the dashboard's strip), newest last.
RECENT_MONTHS = 12


def member_zone(member: User) -> ZoneInfo:
    """The member's time zone; an empty, unknown or malformed name falls back to UTC."""
    try:
        return ZoneInfo(member.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


@dataclass(frozen=True)
class Payment:
    """A card repayment or bill payment as the streak sees it (dates are the member's local dates)."""

    due_date: date | None
    paid_day: date | None  # None only when missed
    missed: bool = False
    amount: Decimal = Decimal(0)
    amount_paid: Decimal | None = None

    @property
    def on_time(self) -> bool:
        if self.missed or self.paid_day is None:
            return False
        if self.amount_paid is not None and self.amount_paid < self.amount:
            return False
        return self.due_date is None or self.paid_day <= self.due_date

    @property
    def month(self) -> tuple[int, int]:
        """The month it counts in (on time) or spoils (not on time)."""
        if self.on_time:
            assert self.paid_day is not None
            day = self.paid_day
        else:
            day = self.due_date or self.paid_day or date.min
        return (day.year, day.month)


@dataclass(frozen=True)
class MonthStatus:
    """One calendar month of the strip: ``state`` is ``kept``, ``spoiled``, ``open`` (this month,
    nothing yet) or ``empty`` (a past month with no on-time payment)."""

    year: int
    month: int
    state: str

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)


@dataclass(frozen=True)
class Streak:
    """A member's on-time streak on ``today`` (their local date). Months are calendar months.

    ``current_months`` / ``best_months``: consecutive kept months (see the module docstring).
    ``last_on_time``: the payment day of the latest on-time payment (None if none ever).
    ``breaks_on``: the local date on which the current streak ends unless a payment is made on
    time before it (None when there is no current streak); ``keep_by`` = the day before.
    ``current_since``: the first day of the streak's first month. ``best_since`` / ``best_until``:
    the first days of the best run's first and last months. ``months``: the last
    ``RECENT_MONTHS`` months, oldest first.
    """

    current_months: int
    best_months: int
    last_on_time: date | None
    breaks_on: date | None
    today: date
    timezone: str
    keep_by: date | None = None
    current_since: date | None = None
    best_since: date | None = None
    best_until: date | None = None
    this_month_kept: bool = False
    months: tuple[MonthStatus, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {
            "current_months": self.current_months,
            "best_months": self.best_months,
            "last_on_time": self.last_on_time,
            "breaks_on": self.breaks_on,
            "keep_by": self.keep_by,
            "current_since": self.current_since,
            "best_since": self.best_since,
            "best_until": self.best_until,
            "this_month_kept": self.this_month_kept,
            "today": self.today,
            "timezone": self.timezone,
            "months": [{"month": f"{m.year:04d}-{m.month:02d}", "state": m.state} for m in self.months],
        }


def _add_months(month: tuple[int, int], n: int) -> tuple[int, int]:
    index = month[0] * 12 + (month[1] - 1) + n
    return (index // 12, index % 12 + 1)


def _first(month: tuple[int, int]) -> date:
    return date(month[0], month[1], 1)


def streak_from(payments: Iterable[Payment], *, today: date, zone_name: str = "UTC") -> Streak:
    """The streak over ``payments`` on the member's local date ``today`` (pure; no database)."""
    kept: set[tuple[int, int]] = set()
    spoiled: set[tuple[int, int]] = set()
    last_on_time: date | None = None
    for p in payments:
        if p.on_time:
            kept.add(p.month)
            assert p.paid_day is not None
            last_on_time = p.paid_day if last_on_time is None else max(last_on_time, p.paid_day)
        else:
            spoiled.add(p.month)
    kept -= spoiled

    this_month = (today.year, today.month)
    # A payment day a day ahead of the member's clock (a partner in another zone) still counts.
    anchor = max([this_month, *kept])

    # Current run: from the anchor month if kept, else (still open) from the month before.
    this_kept = anchor in kept
    start = anchor if this_kept else (None if anchor in spoiled else _add_months(anchor, -1))
    current = 0
    since: tuple[int, int] | None = None
    if start is not None:
        month = start
        while month in kept:
            current += 1
            since = month
            month = _add_months(month, -1)

    # Best run: scan the kept months in order.
    best, best_since, best_until = 0, None, None
    run, run_since = 0, None
    previous: tuple[int, int] | None = None
    for month in sorted(kept):
        if previous is not None and _add_months(previous, 1) == month:
            run += 1
        else:
            run, run_since = 1, month
        if run > best:
            best, best_since, best_until = run, run_since, month
        previous = month

    breaks_on = keep_by = None
    if current:
        assert start is not None
        # The first month not kept yet is the one after the run's last month; it must end kept.
        breaks_on = _first(_add_months(start, 2))
        keep_by = breaks_on - timedelta(days=1)

    strip = []
    for n in range(RECENT_MONTHS - 1, -1, -1):
        month = _add_months(anchor, -n)
        if month in kept:
            state = "kept"
        elif month in spoiled:
            state = "spoiled"
        elif month >= this_month:
            state = "open"
        else:
            state = "empty"
        strip.append(MonthStatus(month[0], month[1], state))

    return Streak(
        current_months=current,
        best_months=best,
        last_on_time=last_on_time,
        breaks_on=breaks_on,
        keep_by=keep_by,
        today=today,
        timezone=zone_name,
        current_since=_first(since) if since else None,
        best_since=_first(best_since) if best_since else None,
        best_until=_first(best_until) if best_until else None,
        this_month_kept=this_kept and anchor == this_month,
        months=tuple(strip),
    )


def may_be_on_time(*, kind: str, due_date: date | None, paid_date: date | None, missed: bool, amount: Decimal,
                   amount_paid: Decimal | None) -> bool:
    """Whether an event with these fields can count as an on-time payment (``Payment.on_time``):
    the only kind of event whose scoring can lengthen a streak (a payment that is not on time
    only spoils a month; a purchase is no payment). Without a ``paid_date`` the payment day is
    the member's local date of ``occurred_at``, which depends on their time zone: then yes."""
    if kind not in (Event.Kind.CARD_REPAYMENT, Event.Kind.BILL_PAYMENT) or missed:
        return False
    if amount_paid is not None and amount_paid < amount:
        return False
    return due_date is None or paid_date is None or paid_date <= due_date


def member_payments(*, member_id: int, zone: ZoneInfo, until: datetime | None = None) -> list[Payment]:
    """The member's scored card repayments and bill payments (one query), as ``Payment``s.

    ``until``: only events that had happened by then (``occurred_at`` <= until), for "as of"."""
    rows = Event.objects.filter(
        member_id=member_id,
        status=Event.Status.SCORED,
        kind__in=[Event.Kind.CARD_REPAYMENT, Event.Kind.BILL_PAYMENT],
    )
    if until is not None:
        rows = rows.filter(occurred_at__lte=until)
    payments = []
    for due, paid, missed, amount, amount_paid, occurred_at in rows.values_list(
        "due_date", "paid_date", "missed", "amount", "amount_paid", "occurred_at"
    ).order_by():
        paid_day = None if missed else (paid or occurred_at.astimezone(zone).date())
        payments.append(Payment(due_date=due, paid_day=paid_day, missed=missed, amount=amount,
                                amount_paid=amount_paid))
    return payments


def member_streak(*, member: User, now: datetime | None = None) -> Streak:
    """The member's on-time streak at ``now`` (default: the current time), in their time zone.

    Reads only (one query). ``now`` in the past gives the streak as of then, from the events
    that had happened by then."""
    zone = member_zone(member)
    moment = now or timezone.now()
    payments = member_payments(member_id=member.pk, zone=zone, until=moment)
    return streak_from(payments, today=moment.astimezone(zone).date(), zone_name=zone.key)


def members_streaks(*, members: list[User], now: datetime | None = None) -> dict[int, Streak]:
    """``member_streak`` for many members with ONE query (a scoring batch's badge check)."""
    moment = now or timezone.now()
    zones = {m.pk: member_zone(m) for m in members}
    payments: dict[int, list[Payment]] = {m.pk: [] for m in members}
    rows = Event.objects.filter(
        member_id__in=list(payments), status=Event.Status.SCORED,
        kind__in=[Event.Kind.CARD_REPAYMENT, Event.Kind.BILL_PAYMENT], occurred_at__lte=moment,
    ).values_list("member_id", "due_date", "paid_date", "missed", "amount", "amount_paid", "occurred_at").order_by()
    for member_id, due, paid, missed, amount, amount_paid, occurred_at in rows:
        paid_day = None if missed else (paid or occurred_at.astimezone(zones[member_id]).date())
        payments[member_id].append(Payment(due_date=due, paid_day=paid_day, missed=missed, amount=amount,
                                           amount_paid=amount_paid))
    return {pk: streak_from(payments[pk], today=moment.astimezone(zones[pk]).date(), zone_name=zones[pk].key)
            for pk in payments}
