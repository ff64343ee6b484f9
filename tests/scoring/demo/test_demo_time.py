"""The demo world lives in time: its year is replayed at the events' own dates (``scoring.ledger.replay``),
and the simulator's traffic is plausible in time."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.members.models import User
from accounts.notifications.models import Notification
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.gamification.badges import BY_CODE, STREAK
from leaderboards.gamification.models import BadgeAward, Perk, PerkGrant
from scoring.demo.simulator import EventStream, members_load, partners_load
from scoring.demo.world import (
    AGEING_EVERY_DAYS,
    HISTORY_DAYS,
    JOINED_BEFORE_HISTORY_DAYS,
    LAST_WEEK_ENDS_BEFORE,
    week_start,
    world_build,
)
from scoring.ingestion.models import Event
from scoring.ingestion.partners import sign
from scoring.ledger.ageing import members_age
from scoring.ledger.bulk import members_score_pending_bulk
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.ledger.replay import AGEING_HOUR, ageing_passes, members_replay
from scoring.ledger.selectors import event_fact, score_history
from scoring.ledger.streaks import member_streak
from scoring.model.factors import BILL_PAYMENT, CARD_REPAYMENT, days_late, lateness_bucket, paid_fraction

SEED = 7
MEMBERS = 40


@pytest.fixture
def seeded(db, tmp_path):  # type: ignore[no-untyped-def]
    """The world as ``seed_demo`` makes it: replay, contagion, badges, boards, perks."""
    partners_file = tmp_path / "demo-partners.json"
    # The catalogue's examples come from a data migration, which a transactional test may have flushed.
    Perk.objects.get_or_create(slug="test-perk", defaults={"name": "Test perk", "description": "For the test.",
                                                           "min_score": 600})
    call_command("seed_demo", members=MEMBERS, seed=SEED, partners_file=str(partners_file), no_progress=True,
                 stdout=open("/dev/null", "w"))  # noqa: SIM115 - the command closes nothing it did not open
    return partners_file


def _year_bounds() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=HISTORY_DAYS + JOINED_BEFORE_HISTORY_DAYS + 1), now


def test_the_demo_members_score_history_spans_the_replayed_year(seeded) -> None:  # type: ignore[no-untyped-def]
    alice = User.objects.get(username="alice")
    points = score_history(member=alice)
    first, last = points[0][0], points[-1][0]
    assert timedelta(days=HISTORY_DAYS) < last - first <= timedelta(days=HISTORY_DAYS + JOINED_BEFORE_HISTORY_DAYS)
    assert datetime.now(UTC) - last < timedelta(days=8)
    days = {when.date() for when, _ in points}
    assert len(days) >= 24  # the chart moves month by month, not on one day
    # Member since: the day she joined, before her first event and her starting score.
    first_event = Event.objects.filter(member=alice).order_by("received_at").first()
    assert first_event is not None
    assert alice.date_joined == first <= first_event.received_at
    # She pays every card and bill on time and in full: her on-time streak runs through the year.
    assert member_streak(member=alice).best_months >= 6


def test_ledger_rows_badges_and_streaks_are_dated_within_the_year(seeded) -> None:  # type: ignore[no-untyped-def]
    start, now = _year_bounds()
    members = User.objects.filter(username__startswith="fb") | User.objects.filter(
        username__in=["alice", "bob", "carol", "mallory"])
    rows = ScoreChange.objects.filter(member__in=members)
    assert rows.count() > 1000
    assert not rows.filter(created_at__lt=start).exists()
    assert not rows.filter(created_at__gt=now).exists()
    # Every event's row is dated when the partner reported it, and the event scored then.
    for created_at, received_at, scored_at in rows.filter(cause="event").values_list(
            "created_at", "event__received_at", "event__scored_at"):
        assert created_at == received_at == scored_at
    assert rows.filter(cause="ageing").count() > 100  # time passing is a cause of its own
    # The months of the year are all there: rows in at least 12 distinct months.
    months = {(d.year, d.month) for d in rows.values_list("created_at", flat=True)}
    assert len(months) >= 12
    awards = BadgeAward.objects.filter(member__in=members)
    assert awards.count() > MEMBERS
    assert not awards.filter(awarded_at__lt=start).exists()
    assert not awards.filter(awarded_at__gt=now).exists()
    assert len({a.date() for a in awards.values_list("awarded_at", flat=True)}) > 5
    # A band badge is dated by the ledger row that first reached the band.
    for award in awards.filter(badge__startswith="band_"):
        lowest = BY_CODE[award.badge].lowest
        first = (ScoreChange.objects.filter(member_id=award.member_id, new_score__gte=lowest)
                 .order_by("created_at", "pk").values_list("created_at", flat=True).first())
        assert first is not None and award.awarded_at == first
    # Each badge's notification is dated with it.
    notices = set(Notification.objects.filter(member__in=members, kind="badge").values_list("member_id", "created_at"))
    assert notices == set(awards.values_list("member_id", "awarded_at"))
    # Perks are dated when the score last rose to the perk's line.
    grants = PerkGrant.objects.filter(member__in=members).select_related("perk")
    assert grants.exists()
    for grant in grants:
        rose = (ScoreChange.objects.filter(member_id=grant.member_id, new_score__gte=grant.perk.min_score)
                .exclude(old_score__gte=grant.perk.min_score).order_by("-created_at", "-pk")
                .values_list("created_at", flat=True).first())
        assert grant.granted_at == rose and start <= rose <= now
    # Streaks are real: counted from the year's payments on today's date, and a streak badge is
    # dated when the on-time payment that completed its tier was received.
    streaks = [member_streak(member=m) for m in members]
    assert max(s.best_months for s in streaks) >= 3
    assert all(start.date() <= s.last_on_time <= now.date() for s in streaks if s.last_on_time is not None)
    streak_awards = awards.filter(badge=STREAK)
    assert streak_awards.exists()
    for award in streak_awards:
        received = set(Event.objects.filter(member_id=award.member_id).values_list("received_at", flat=True))
        assert award.awarded_at in received


def test_the_weekly_board_holds_only_this_weeks_points(seeded) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    week = week_start(now)
    season = Season.objects.get(starts_at=week)
    # Friend contagion of the seeded friendships came in as last week ended: not this week's points.
    assert ScoreChange.objects.filter(cause="contagion", created_at=week - LAST_WEEK_ENDS_BEFORE).count() > MEMBERS / 2
    entries = {e.member_id: e for e in SeasonEntry.objects.filter(season=season)}
    moved = set(ScoreChange.objects.filter(created_at__gte=week).values_list("member_id", flat=True))
    assert set(entries) == moved & set(User.objects.filter(score__isnull=False).values_list("pk", flat=True))
    for member_id, entry in entries.items():
        before = (ScoreChange.objects.filter(member_id=member_id, created_at__lt=week)
                  .order_by("-created_at", "-id").values_list("new_score", flat=True).first())
        score = User.objects.get(pk=member_id).score
        assert before is not None and score is not None  # everyone had a score before this week
        assert (entry.start_score, entry.points) == (before, score - before)
    # Nobody gains the whole replayed year this week: what moves is this week's events and time.
    year: dict[int, int] = {m: s for m, s in User.objects.filter(score__isnull=False).values_list("pk", "score")
                            if s is not None}
    starts = dict(ScoreChange.objects.filter(cause="profile", old_score__isnull=True)
                  .values_list("member_id", "new_score"))
    this_week = sum(abs(e.points) for e in entries.values())
    assert this_week < sum(abs(year[m] - starts[m]) for m in starts if m in year)


def test_the_replay_writes_what_the_live_pipeline_writes_over_the_year(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``members_replay`` against the live path run moment by moment: each event inserted when
    it was received and scored then (``members_score_pending_bulk(now=…)``), and the members
    aged on the replay's ageing days (``ageing.members_age``): the same ledger, row for row,
    dated alike."""
    world_build(members=8, seed=SEED, partners_file=tmp_path / "p.json", progress=False)
    ids = sorted(User.objects.filter(score__isnull=False).values_list("pk", flat=True))
    replayed = _snapshot(ids)
    events = list(Event.objects.filter(member_id__in=ids).order_by("received_at", "occurred_at", "id"))
    joined = dict(User.objects.filter(pk__in=ids).values_list("pk", "date_joined"))
    _unscore(ids)

    # The week's contagion rebuild is left out of both: replay to now, then live, with no friends' points.
    now = datetime.now(UTC)
    ScoreChange.objects.filter(member_id__in=ids).delete()
    ScoreState.objects.filter(member_id__in=ids).delete()
    Event.objects.filter(member_id__in=ids).update(status=Event.Status.PENDING, scored_at=None, attempts=0)
    members_replay(member_ids=ids, until=now, ageing_days=AGEING_EVERY_DAYS)
    fast = _snapshot(ids)

    _unscore(ids)
    Event.objects.filter(member_id__in=ids).delete()
    moments: list[tuple[datetime, int, int | date | Event]] = []  # (when, order at that moment, what)
    for member_id, at in joined.items():
        moments.append((at, 0, member_id))
    for event in events:
        moments.append((event.received_at, 2, event))
    first_day = min(joined.values()).date()
    for day in ageing_passes(first_day, now.date(), AGEING_EVERY_DAYS):
        at = min(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=AGEING_HOUR), now)
        moments.append((at, 1, day))
    moments.sort(key=lambda m: (m[0], m[1]))
    for at, _, item in moments:
        if isinstance(item, int):  # a member joins: their starting score
            members_score_pending_bulk(member_ids=[item], announce=False, now=at)
        elif isinstance(item, date):  # an ageing pass
            members_age(member_ids=ids, as_of=item, now=at, announce=False)
        else:  # an event is received and scored at once
            event = item
            event.pk = None
            event.status = Event.Status.PENDING
            event.scored_at = None
            event.attempts = 0
            event.save()
            Event.objects.filter(pk=event.pk).update(received_at=at)
            members_score_pending_bulk(member_ids=[event.member_id], announce=False, now=at)
    members_age(member_ids=ids, as_of=now.date(), now=now, announce=False)
    live = _snapshot(ids)
    assert len(fast["ledger"]) > 200
    assert fast == live
    # The seed's own replay differs only by friend contagion (rebuilt when this week opened).
    assert [r for r in replayed["ledger"] if r[1] != "contagion"][:50] == fast["ledger"][:50]


def _unscore(ids: list[int]) -> None:
    ScoreChange.objects.filter(member_id__in=ids).delete()
    ScoreState.objects.filter(member_id__in=ids).delete()
    User.objects.filter(pk__in=ids).update(score=None, score_band="", score_reached_at=None)


def _snapshot(ids: list[int]) -> dict[str, list[Any]]:
    ledger = list(ScoreChange.objects.filter(member_id__in=ids).order_by("member_id", "created_at", "id").values_list(
        "member_id", "cause", "event__external_id", "created_at", "old_score", "new_score", "old_base", "new_base",
        "new_social", "new_factors", "explanation"))
    states = sorted(ScoreState.objects.filter(member_id__in=ids).values_list(
        "member_id", "base", "score", "factors", "as_of"))
    users = sorted(User.objects.filter(pk__in=ids).values_list("pk", "score", "score_band", "score_reached_at"))
    return {"ledger": ledger, "states": states, "users": users}


# --- the simulator, in time ----------------------------------------------------------------------------


def _signed_post(client: Client, creds, payload) -> int:  # type: ignore[no-untyped-def]
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    response = client.post("/api/v1/events/", data=body, content_type="application/json",
                           HTTP_X_CREDO_KEY=creds.key_id, HTTP_X_CREDO_TIMESTAMP=str(stamp),
                           HTTP_X_CREDO_SIGNATURE=sign(creds.secret, stamp, body),
                           HTTP_IDEMPOTENCY_KEY=payload["external_id"])
    return response.status_code


def _bad(event: Event) -> bool:
    """A late, missed or partial repayment."""
    if event.kind not in (CARD_REPAYMENT, BILL_PAYMENT):
        return False
    fact = event_fact(event)
    return event.missed or lateness_bucket(days_late(fact)) > 0 or paid_fraction(fact) < 1.0


@pytest.mark.django_db(transaction=True)
def test_a_simulated_stream_never_shows_a_bad_payment_as_a_gain(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ten minutes of ``simulate`` at 2 events a second, through the real signed API and the
    real scoring: no late, missed or partial payment ever raises a score in the ledger, and no
    member pays more than one card statement and one bill in the run."""
    partners_file = tmp_path / "demo-partners.json"
    world_build(members=30, seed=SEED, partners_file=partners_file, progress=False)
    creds, demo_member = partners_load(Path(partners_file))
    members, friends = members_load(demo_member=demo_member)
    stream = EventStream(members=members, friends=friends, demo_member=demo_member, seed=11, run_id="t")
    client = Client()
    start = datetime.now(UTC)
    sent = []
    for i in range(1200):
        kind, payload, _ = stream.next(now=start + timedelta(seconds=i / 2))
        payload["occurred_at"] = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        assert _signed_post(client, creds[kind], payload) in (200, 201), payload
        sent.append(payload)
        if i % 100 == 99:
            pending = Event.objects.filter(status=Event.Status.PENDING).values_list("member_id", flat=True)
            members_score_pending_bulk(member_ids=set(pending), announce=False)
    pending = Event.objects.filter(status=Event.Status.PENDING).values_list("member_id", flat=True)
    members_score_pending_bulk(member_ids=set(pending), announce=False)

    simulated = Event.objects.filter(external_id__startswith="sim-t-").select_related("partner")
    assert simulated.count() == 1200
    payments = Counter((e.member_id, e.kind) for e in simulated if e.kind != "purchase")
    assert max(payments.values()) == 1
    assert Counter(e.kind for e in simulated)["purchase"] > 1200 * 0.8  # mostly purchases between due dates
    bad = [e for e in simulated if _bad(e)]
    assert bad  # the stream does send late, missed and partial payments
    rows = {r.event_id: r for r in ScoreChange.objects.filter(event__in=simulated, cause="event")}
    assert len(rows) == 1200
    gains = [(rows[e.pk].explanation, e.amount_paid, Decimal(e.amount)) for e in bad if rows[e.pk].delta > 0]
    assert gains == []
