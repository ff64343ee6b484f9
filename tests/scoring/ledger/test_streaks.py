"""On-time streaks: definitions at their boundaries, the member's time zone, DST (time-machine)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scoring.ingestion.models import Event, Partner
from scoring.ledger.streaks import Payment, member_streak, members_streaks, streak_from
from tests.factories import UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
_ids = itertools.count()


def on_time(day: date) -> Payment:
    return Payment(due_date=day, paid_day=day)


def late(due: date, days: int = 1) -> Payment:
    return Payment(due_date=due, paid_day=date.fromordinal(due.toordinal() + days))


# --- the pure computation ---------------------------------------------------------------------


def test_no_payments_no_streak():
    s = streak_from([], today=date(2026, 3, 10))
    assert (s.current_months, s.best_months, s.last_on_time, s.breaks_on, s.keep_by) == (0, 0, None, None, None)
    assert [m.state for m in s.months][-2:] == ["empty", "open"]


def test_two_months_then_three_at_the_boundary():
    two = [on_time(date(2026, 1, 31)), on_time(date(2026, 2, 27))]
    s = streak_from(two, today=date(2026, 3, 31))  # March still open: the streak holds
    assert (s.current_months, s.best_months, s.current_since) == (2, 2, date(2026, 1, 1))
    assert (s.keep_by, s.breaks_on, s.last_on_time) == (date(2026, 3, 31), date(2026, 4, 1), date(2026, 2, 27))
    assert not s.this_month_kept
    # The last day of March, paid on time: three months, and the next deadline is the end of April.
    three = streak_from([*two, on_time(date(2026, 3, 31))], today=date(2026, 3, 31))
    assert (three.current_months, three.best_months, three.this_month_kept) == (3, 3, True)
    assert (three.keep_by, three.breaks_on) == (date(2026, 4, 30), date(2026, 5, 1))
    # April 1st without a March payment: broken, the best stays.
    broken = streak_from(two, today=date(2026, 4, 1))
    assert (broken.current_months, broken.best_months, broken.breaks_on) == (0, 2, None)
    assert [m.state for m in broken.months][-4:] == ["kept", "kept", "empty", "open"]


def test_several_payments_in_a_month_count_once():
    s = streak_from([on_time(date(2026, 2, d)) for d in (1, 10, 28)], today=date(2026, 2, 28))
    assert (s.current_months, s.best_months) == (1, 1)


def test_a_late_payment_spoils_the_month_it_was_due_whenever_it_was_paid():
    payments = [on_time(date(2026, 1, 5)), on_time(date(2026, 2, 5)), on_time(date(2026, 3, 5)),
                late(date(2026, 2, 20), days=40)]  # due in February, paid in April
    s = streak_from(payments, today=date(2026, 4, 2))
    assert (s.current_months, s.best_months) == (1, 1)  # only March survives
    assert [m.state for m in s.months][-4:] == ["kept", "spoiled", "kept", "open"]


def test_one_day_late_missed_and_partial_are_not_on_time():
    base = [on_time(date(2026, 1, 5)), on_time(date(2026, 2, 5))]
    today = date(2026, 2, 25)
    assert streak_from(base, today=today).current_months == 2
    one_day = late(date(2026, 2, 10), days=1)
    missed = Payment(due_date=date(2026, 2, 10), paid_day=None, missed=True)
    partial = Payment(due_date=date(2026, 2, 10), paid_day=date(2026, 2, 10), amount=Decimal("100"),
                      amount_paid=Decimal("99.99"))
    full = Payment(due_date=date(2026, 2, 10), paid_day=date(2026, 2, 9), amount=Decimal("100"),
                   amount_paid=Decimal("100"))
    for bad in (one_day, missed, partial):
        s = streak_from([*base, bad], today=today)
        assert (s.current_months, s.best_months, s.breaks_on) == (0, 1, None), bad
    assert streak_from([*base, full], today=today).current_months == 2


def test_best_streak_is_the_longest_run_ever():
    old = [on_time(date(2025, m, 3)) for m in range(3, 9)]  # March-August 2025: six months
    recent = [on_time(date(2026, 1, 3)), on_time(date(2026, 2, 3))]
    s = streak_from([*old, *recent], today=date(2026, 2, 10))
    assert (s.current_months, s.best_months) == (2, 6)
    assert (s.best_since, s.best_until) == (date(2025, 3, 1), date(2025, 8, 1))
    assert s.current_since == date(2026, 1, 1)


def test_a_streak_across_the_new_year():
    payments = [on_time(date(2025, 11, 30)), on_time(date(2025, 12, 31)), on_time(date(2026, 1, 1))]
    s = streak_from(payments, today=date(2026, 1, 1))
    assert (s.current_months, s.breaks_on) == (3, date(2026, 3, 1))


# --- the selector: scored events, the member's zone, DST ------------------------------------------


@pytest.fixture
def acme(db):  # type: ignore[no-untyped-def]
    return Partner.objects.create(name="Acme Bank", slug="acme")


def pay(member, partner, *, due: date, paid: date | None = None, missed: bool = False,  # type: ignore[no-untyped-def]
        at: datetime | None = None, kind: str = Event.Kind.CARD_REPAYMENT,
        status: str = Event.Status.SCORED) -> Event:
    occurred = at or datetime(due.year, due.month, due.day, 12, tzinfo=UTC)
    return Event.objects.create(
        member=member, partner=partner, external_id=f"e{next(_ids)}", kind=kind, amount=Decimal("50.00"),
        currency="EUR", occurred_at=occurred, due_date=due, paid_date=None if missed else (paid or due),
        missed=missed, status=status,
    )


def test_only_scored_card_and_bill_payments_count(acme):
    alice = UserFactory(username="alice")
    pay(alice, acme, due=date(2026, 1, 10))
    pay(alice, acme, due=date(2026, 2, 10), kind=Event.Kind.BILL_PAYMENT)
    pay(alice, acme, due=date(2026, 3, 10), status=Event.Status.PENDING)
    pay(alice, acme, due=date(2026, 2, 12), missed=True, status=Event.Status.REVERSED)  # reversed: ignored
    pay(alice, acme, due=date(2026, 1, 12), missed=True, status=Event.Status.FAILED)
    Event.objects.create(member=alice, partner=acme, external_id="buy", kind=Event.Kind.PURCHASE,
                         amount=Decimal("9"), currency="EUR", occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
                         status=Event.Status.SCORED)
    s = member_streak(member=alice, now=datetime(2026, 3, 20, 12, tzinfo=UTC))
    assert (s.current_months, s.best_months, s.last_on_time) == (2, 2, date(2026, 2, 10))
    assert (s.keep_by, s.breaks_on, s.timezone) == (date(2026, 3, 31), date(2026, 4, 1), "UTC")


def test_the_selector_reads_in_one_query(acme, django_assert_num_queries):
    alice = UserFactory(username="alice")
    for m in range(1, 7):
        pay(alice, acme, due=date(2026, m, 3))
    with django_assert_num_queries(1):
        s = member_streak(member=alice, now=datetime(2026, 6, 30, tzinfo=UTC))
    assert s.current_months == 6


def test_as_of_ignores_what_had_not_happened_yet(acme):
    alice = UserFactory(username="alice")
    pay(alice, acme, due=date(2026, 1, 3))
    pay(alice, acme, due=date(2026, 2, 3))
    assert member_streak(member=alice, now=datetime(2026, 1, 20, tzinfo=UTC)).current_months == 1
    assert member_streak(member=alice, now=datetime(2026, 2, 20, tzinfo=UTC)).current_months == 2


def test_midnight_in_new_york_is_not_midnight_in_utc(acme):
    """Feb 1 02:00 UTC is still Jan 31 (21:00) in New York: a streak through December holds
    there until the New York midnight, while a UTC member's has already broken."""
    ny = UserFactory(username="alice", timezone="America/New_York")
    utc = UserFactory(username="bob", timezone="UTC")
    for member in (ny, utc):
        pay(member, acme, due=date(2025, 11, 20))
        pay(member, acme, due=date(2025, 12, 20))
    with time_machine.travel(datetime(2026, 2, 1, 2, 0, tzinfo=UTC), tick=False):
        s = member_streak(member=ny)
        assert (s.today, s.current_months, s.keep_by, s.breaks_on) == (
            date(2026, 1, 31), 2, date(2026, 1, 31), date(2026, 2, 1))
        assert member_streak(member=utc).current_months == 0
    with time_machine.travel(datetime(2026, 2, 1, 5, 0, tzinfo=UTC), tick=False):  # 00:00 in New York
        assert member_streak(member=ny).current_months == 0


def test_paid_at_2330_local_on_the_due_date_is_on_time_and_in_that_month(acme):
    ny = UserFactory(username="alice", timezone="America/New_York")
    pay(ny, acme, due=date(2025, 12, 15))
    # 23:30 on Jan 31 in New York is 04:30 UTC on Feb 1. Without a paid_date the local date of
    # occurred_at is the payment day: on time, and January's.
    event = pay(ny, acme, due=date(2026, 1, 31), at=datetime(2026, 1, 31, 23, 30, tzinfo=NEW_YORK))
    Event.objects.filter(pk=event.pk).update(paid_date=None)
    assert event.occurred_at.astimezone(UTC) == datetime(2026, 2, 1, 4, 30, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 2, 1, 4, 45, tzinfo=UTC), tick=False):
        s = member_streak(member=ny)
    assert (s.today, s.current_months, s.this_month_kept) == (date(2026, 1, 31), 2, True)
    assert (s.last_on_time, s.breaks_on) == (date(2026, 1, 31), date(2026, 3, 1))
    # The same instant read in UTC would make it a February payment a day late.
    ny.timezone = "UTC"
    s = member_streak(member=ny, now=datetime(2026, 2, 1, 4, 45, tzinfo=UTC))
    assert (s.current_months, s.best_months) == (0, 1)


def test_a_reported_paid_date_is_the_members_date_never_converted(acme):
    tokyo = UserFactory(username="alice", timezone="Asia/Tokyo")
    # occurred_at is Jan 31 in UTC but Feb 1 in Tokyo: the partner's paid_date (Jan 31) decides.
    pay(tokyo, acme, due=date(2026, 1, 31), paid=date(2026, 1, 31), at=datetime(2026, 1, 31, 20, tzinfo=UTC))
    s = member_streak(member=tokyo, now=datetime(2026, 2, 10, tzinfo=UTC))
    assert (s.current_months, s.last_on_time, s.breaks_on) == (1, date(2026, 1, 31), date(2026, 3, 1))


@pytest.mark.parametrize(("instant", "local_today", "current"), [
    # Berlin moves to summer time (UTC+2) on Sunday 29 March 2026.
    (datetime(2026, 3, 31, 21, 30, tzinfo=UTC), date(2026, 3, 31), 2),  # 23:30 CEST: still March
    (datetime(2026, 3, 31, 22, 30, tzinfo=UTC), date(2026, 4, 1), 0),  # 00:30 CEST (23:30 at UTC+1)
])
def test_berlin_spring_forward(acme, instant, local_today, current):
    member = UserFactory(username="alice", timezone="Europe/Berlin")
    pay(member, acme, due=date(2026, 1, 15))
    pay(member, acme, due=date(2026, 2, 15))
    with time_machine.travel(instant, tick=False):
        s = member_streak(member=member)
    assert (s.today, s.current_months) == (local_today, current)
    assert s.best_months == 2


@pytest.mark.parametrize(("instant", "local_today", "current", "breaks_on"), [
    # Berlin goes back to UTC+1 on Sunday 25 October 2026.
    (datetime(2026, 10, 31, 22, 30, tzinfo=UTC), date(2026, 10, 31), 2, date(2026, 11, 1)),  # 23:30 CET
    (datetime(2026, 10, 31, 23, 30, tzinfo=UTC), date(2026, 11, 1), 0, None),  # 00:30 CET, still Oct in UTC
])
def test_berlin_fall_back(acme, instant, local_today, current, breaks_on):
    member = UserFactory(username="alice", timezone="Europe/Berlin")
    pay(member, acme, due=date(2026, 8, 15))
    pay(member, acme, due=date(2026, 9, 15))
    with time_machine.travel(instant, tick=False):
        s = member_streak(member=member)
    assert (s.today, s.current_months, s.breaks_on) == (local_today, current, breaks_on)


@pytest.mark.parametrize(("instant", "local_today", "current"), [
    # New York is on summer time (UTC−4) from 8 March 2026.
    (datetime(2026, 4, 1, 3, 30, tzinfo=UTC), date(2026, 3, 31), 2),  # 23:30 EDT
    (datetime(2026, 4, 1, 4, 30, tzinfo=UTC), date(2026, 4, 1), 0),  # 00:30 EDT (23:30 at UTC−5)
])
def test_new_york_after_the_spring_change(acme, instant, local_today, current):
    member = UserFactory(username="alice", timezone="America/New_York")
    pay(member, acme, due=date(2026, 1, 15))
    pay(member, acme, due=date(2026, 2, 15))
    s = member_streak(member=member, now=instant)
    assert (s.today, s.current_months) == (local_today, current)


def test_a_payment_on_the_night_of_the_dst_change_counts(acme):
    # 02:30 on 29 March 2026 does not exist in Berlin; a payment reported at 01:30 UTC (03:30 CEST)
    # without a paid_date is a 29 March payment.
    member = UserFactory(username="alice", timezone="Europe/Berlin")
    pay(member, acme, due=date(2026, 2, 28))
    event = pay(member, acme, due=date(2026, 3, 29), at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    Event.objects.filter(pk=event.pk).update(paid_date=None)
    s = member_streak(member=member, now=datetime(2026, 3, 29, 2, 0, tzinfo=UTC))
    assert (s.current_months, s.last_on_time, s.this_month_kept) == (2, date(2026, 3, 29), True)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "UTC+1"])
def test_an_unknown_time_zone_falls_back_to_utc(acme, name):
    member = UserFactory(username="alice", timezone=name)
    pay(member, acme, due=date(2026, 1, 15))
    s = member_streak(member=member, now=datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    assert (s.timezone, s.today, s.current_months) == ("UTC", date(2026, 2, 1), 1)


def test_many_members_streaks_in_one_query_equal_each_members_own(acme, django_assert_num_queries):
    alice = UserFactory(username="alice", timezone="Europe/Berlin")
    bob = UserFactory(username="bob", timezone="America/New_York")
    carol = UserFactory(username="carol")  # no payments at all
    for m in range(1, 5):
        pay(alice, acme, due=date(2026, m, 3))
    pay(bob, acme, due=date(2026, 3, 31), at=datetime(2026, 4, 1, 2, 0, tzinfo=UTC))  # still 31 Mar in New York
    pay(bob, acme, due=date(2026, 2, 10), missed=True)
    now = datetime(2026, 4, 20, 12, tzinfo=UTC)
    with django_assert_num_queries(1):
        many = members_streaks(members=[alice, bob, carol], now=now)
    assert many == {m.pk: member_streak(member=m, now=now) for m in (alice, bob, carol)}
    assert (many[alice.pk].current_months, many[bob.pk].current_months, many[carol.pk].current_months) == (4, 1, 0)
