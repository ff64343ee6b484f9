"""Badges: every rule at its boundary, awarding (once, explained, notified, never scored), the
triggers, ``badges_rebuild``, the page, the card and the API."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from leaderboards.boards import services
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.gamification import badges
from leaderboards.gamification.badges import badge_award, badges_evaluate
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant
from scoring.ingestion.models import Event
from scoring.ledger import services as scoring
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.moderation import services as moderation
from social.invitations import services as invitations_services
from social.invitations.models import Invitation
from tests.leaderboards.conftest import befriend, member, scored
from tests.scoring.conftest import acme, acme_key  # noqa: F401  (fixtures)

# A Wednesday; its season runs from Monday 23 Nov 2026 00:00 UTC.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
_n = itertools.count()


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def awards(user: User) -> list[tuple[str, str, str, str]]:
    return sorted(BadgeAward.objects.filter(member=user).values_list("badge", "tier", "key", "explanation"))


def evaluate(user: User, **kwargs: object) -> list[tuple[str, str, str]]:
    return [(a.badge, a.tier, a.key) for a in badges_evaluate(member_id=user.pk, **kwargs)]  # type: ignore[arg-type]


def invitations_used(inviter: User, count: int, *, first: datetime = NOW - timedelta(days=30)) -> None:
    """``count`` invitations of ``inviter`` accepted, one a day from ``first``."""
    for i in range(count):
        Invitation.objects.create(inviter=inviter, token_hash=uuid.uuid4().hex, expires_at=first + timedelta(days=60),
                                  used_at=first + timedelta(days=i))


def paid_on_time(user: User, partner, day: date) -> Event:  # type: ignore[no-untyped-def]
    return Event.objects.create(
        member=user, partner=partner, external_id=f"pay-{next(_n)}", kind=Event.Kind.CARD_REPAYMENT,
        amount=Decimal("100.00"), currency="EUR", occurred_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        due_date=day, paid_date=day, status=Event.Status.SCORED)


@pytest.fixture
def run(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """``run(fn, **kwargs)``: call a service, then what it left for after commit (tasks run eagerly)."""

    def call(fn, /, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


@pytest.fixture
def pushes(monkeypatch):  # type: ignore[no-untyped-def]
    """The ``member_push`` calls of the badges, as (member_id, payload)."""
    sent: list[tuple[int, dict]] = []
    monkeypatch.setattr(badges, "member_push", lambda *, member_id, payload: sent.append((member_id, payload)))
    return sent


# --- the catalogue ---------------------------------------------------------------------------------


def test_the_catalogue_is_defined_once_with_tiers_where_they_fit() -> None:
    assert [(b.code, [(t.tier, t.goal) for t in b.tiers]) for b in badges.CATALOGUE] == [
        ("first_friend", []),
        ("invitations_accepted", [("bronze", 1), ("silver", 5), ("gold", 25)]),
        ("on_time_streak", [("bronze", 3), ("silver", 6), ("gold", 12)]),
        ("band_fair", []), ("band_good", []), ("band_very_good", []), ("band_excellent", []),
        ("most_improved", []),
        ("one_year", []),
        ("dispute_resolved", []),
        ("challenge_won", []),
    ]
    assert all(b.name and b.description and b.how for b in badges.CATALOGUE)


# --- each rule at its boundary ---------------------------------------------------------------------


def test_first_friend(alice, bob, carol) -> None:  # type: ignore[no-untyped-def]
    assert evaluate(alice) == []
    befriend(alice, bob, at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    befriend(alice, carol, at=datetime(2026, 11, 4, 9, 0, tzinfo=UTC))
    assert evaluate(alice) == [("first_friend", "", "")]
    assert awards(alice) == [("first_friend", "", "", "Awarded for your first friend: bob, on 3 Nov 2026")]
    assert evaluate(alice) == []  # evaluated twice: awarded once


@pytest.mark.parametrize(("used", "tiers"), [
    (0, []), (1, ["bronze"]), (4, ["bronze"]), (5, ["bronze", "silver"]), (24, ["bronze", "silver"]),
    (25, ["bronze", "silver", "gold"]),
])
def test_invitations_accepted_1_5_25(alice, used, tiers) -> None:  # type: ignore[no-untyped-def]
    invitations_used(alice, used)
    assert [t for _, t, _ in evaluate(alice, families=[badges.SOCIAL])] == tiers


def test_invitations_explanations(alice) -> None:  # type: ignore[no-untyped-def]
    invitations_used(alice, 5, first=datetime(2026, 10, 30, 18, 0, tzinfo=UTC))
    evaluate(alice)
    assert awards(alice) == [
        ("invitations_accepted", "bronze", "", "Awarded for your first accepted invitation on 30 Oct 2026"),
        ("invitations_accepted", "silver", "", "Awarded for 5 accepted invitations, the 5th on 3 Nov 2026"),
    ]


def test_an_open_or_expired_invitation_does_not_count(alice) -> None:  # type: ignore[no-untyped-def]
    Invitation.objects.create(inviter=alice, token_hash="open", expires_at=NOW + timedelta(days=1))
    Invitation.objects.create(inviter=alice, token_hash="expired", expires_at=NOW - timedelta(days=1))
    assert evaluate(alice) == []


def test_on_time_streak_2_vs_3_months(alice, acme) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    paid_on_time(alice, acme, date(2026, 9, 3))
    paid_on_time(alice, acme, date(2026, 10, 3))
    assert evaluate(alice, families=[badges.STREAKS]) == []
    paid_on_time(alice, acme, date(2026, 11, 3))
    assert evaluate(alice, families=[badges.STREAKS]) == [("on_time_streak", "bronze", "")]
    assert awards(alice) == [
        ("on_time_streak", "bronze", "", "Awarded for 3 months of on-time payments, last one on 3 Nov 2026")]


def test_on_time_streak_5_vs_6_months_and_a_late_month_breaks_it(alice, acme) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for month in (6, 7, 8, 9, 10):
        paid_on_time(alice, acme, date(2026, month, 3))
    assert [t for _, t, _ in evaluate(alice)] == ["bronze"]
    late = paid_on_time(alice, acme, date(2026, 11, 3))
    Event.objects.filter(pk=late.pk).update(paid_date=date(2026, 11, 4))  # one day late: November spoiled
    assert evaluate(alice) == []
    Event.objects.filter(pk=late.pk).update(paid_date=date(2026, 11, 3))
    assert [t for _, t, _ in evaluate(alice)] == ["silver"]
    assert awards(alice)[1][3] == "Awarded for 6 months of on-time payments, last one on 3 Nov 2026"


def test_a_past_streak_is_found_by_a_rebuild(alice, acme) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for month in (1, 2, 3):
        paid_on_time(alice, acme, date(2026, month, 10))
    paid_on_time(alice, acme, date(2026, 9, 10))  # the streak since broke; the best was 3
    evaluate(alice)
    assert awards(alice) == [("on_time_streak", "bronze", "",
                              "Awarded for 3 months of on-time payments (your best streak: 3 months)")]


def test_band_reached_one_badge_per_band(db) -> None:  # type: ignore[no-untyped-def]
    alice = member("alice", 549, at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    assert evaluate(alice) == []
    scored(alice, 550, at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    assert evaluate(alice) == [("band_fair", "", "")]
    scored(alice, 500, at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    scored(alice, 712, at=datetime(2026, 11, 4, 23, 30, tzinfo=UTC))  # jumps over two bands
    assert evaluate(alice) == [("band_good", "", ""), ("band_very_good", "", ""), ("band_excellent", "", "")]
    assert awards(alice) == [
        ("band_excellent", "", "", "Awarded for reaching Excellent (700+): 712 on 4 Nov 2026"),
        ("band_fair", "", "", "Awarded for reaching Fair (550+): 550 on 2 Nov 2026"),
        ("band_good", "", "", "Awarded for reaching Good (600+): 712 on 4 Nov 2026"),
        ("band_very_good", "", "", "Awarded for reaching Very good (650+): 712 on 4 Nov 2026"),
    ]
    scored(alice, 560)
    assert evaluate(alice) == []  # a badge is kept when the band is lost


def test_dates_are_the_members_local_dates(db) -> None:  # type: ignore[no-untyped-def]
    alice = member("alice", timezone="Asia/Tokyo")
    scored(alice, 600, at=datetime(2026, 11, 4, 23, 30, tzinfo=UTC))  # 5 Nov 08:30 in Tokyo
    evaluate(alice)
    assert awards(alice)[1][3] == "Awarded for reaching Good (600+): 600 on 5 Nov 2026"


def test_one_year_a_member_to_the_second(alice) -> None:  # type: ignore[no-untyped-def]
    User.objects.filter(pk=alice.pk).update(date_joined=datetime(2025, 11, 3, 10, 0, tzinfo=UTC))
    assert badges.badges_anniversaries_award(now=datetime(2026, 11, 3, 9, 59, 59, tzinfo=UTC)) == 0
    assert badges.badges_anniversaries_award(now=datetime(2026, 11, 3, 10, 0, tzinfo=UTC)) == 1
    assert badges.badges_anniversaries_award(now=datetime(2026, 11, 4, 10, 0, tzinfo=UTC)) == 0
    assert awards(alice) == [("one_year", "", "", "Awarded for one year as a member: joined on 3 Nov 2025")]


def test_one_year_from_29_february(alice) -> None:  # type: ignore[no-untyped-def]
    User.objects.filter(pk=alice.pk).update(date_joined=datetime(2024, 2, 29, 12, 0, tzinfo=UTC))
    assert badges.badges_anniversaries_award(now=datetime(2025, 2, 28, 11, 0, tzinfo=UTC)) == 0
    assert badges.badges_anniversaries_award(now=datetime(2025, 2, 28, 12, 0, tzinfo=UTC)) == 1


def test_most_improved_at_season_close_with_a_tie(db, run, pushes) -> None:  # type: ignore[no-untyped-def]
    names = {"ann": 30, "ben": 20, "cat": 20, "dan": 20, "eve": 10, "fay": -5}
    people = {n: member(n, 600) for n in names}
    for name, gain in names.items():
        scored(people[name], 600 + gain)
    season = Season.objects.get()
    with time_machine.travel(datetime(2026, 11, 30, 0, 1, tzinfo=UTC), tick=False):
        assert run(services.season_close, season_id=season.pk) == 1
    assert dict(SeasonEntry.objects.filter(season=season).values_list("member__username", "final_rank")) == {
        "ann": 1, "ben": 2, "cat": 2, "dan": 2, "eve": 5, "fay": 6}
    assert sorted(BadgeAward.objects.filter(badge="most_improved").values_list(
        "member__username", "key", "explanation")) == [
        ("ann", f"season:{season.pk}", "Awarded for most improved of the week of 23 Nov 2026: #1 with +30 points"),
        ("ben", f"season:{season.pk}", "Awarded for most improved of the week of 23 Nov 2026: #2 with +20 points"),
        ("cat", f"season:{season.pk}", "Awarded for most improved of the week of 23 Nov 2026: #2 with +20 points"),
        ("dan", f"season:{season.pk}", "Awarded for most improved of the week of 23 Nov 2026: #2 with +20 points"),
    ]
    # Awarded again by a rebuild? No: the same key, held already.
    rebuilt = badges.badges_rebuild(member_ids=[p.pk for p in people.values()])
    assert [a for a in rebuilt if a.badge == "most_improved"] == []


def test_most_improved_needs_a_gain(db) -> None:  # type: ignore[no-untyped-def]
    ann, ben = member("ann", 600), member("ben", 600)
    scored(ann, 610)
    scored(ben, 590)
    season = Season.objects.get()
    services.season_close(season_id=season.pk)
    assert badges.badges_season_award(season_id=season.pk)[0].member_id == ann.pk
    assert BadgeAward.objects.filter(badge="most_improved").count() == 1  # ben was #2, but lost points


def test_dispute_resolved_when_a_moderator_decides(alice, acme, run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    event = paid_on_time(alice, acme, date(2026, 11, 3))
    dispute = run(moderation.dispute_open, member=alice, event_id=event.pk, reason="Not mine")
    assert awards(alice) == []  # open: nothing yet
    run(moderation.dispute_reject, dispute_id=dispute.pk, by=None, reason="It is yours")
    assert awards(alice) == [("dispute_resolved", "", "", "Awarded for a dispute decided on 25 Nov 2026 (rejected)")]


def test_challenge_won_one_per_challenge(alice, bob) -> None:  # type: ignore[no-untyped-def]
    challenge = Challenge.objects.create(created_by=alice, status=Challenge.Status.FINISHED,
                                         starts_at=NOW - timedelta(days=7), ends_at=NOW, finished_at=NOW)
    ChallengeParticipant.objects.create(challenge=challenge, member=alice, points=34, is_winner=True, final_rank=1)
    ChallengeParticipant.objects.create(challenge=challenge, member=bob, points=12, final_rank=2)
    assert evaluate(alice) == [("challenge_won", "", f"challenge:{challenge.pk}")]
    assert evaluate(bob) == []
    assert awards(alice)[0][3] == f"Awarded for winning challenge #{challenge.pk} with +34 points, on 25 Nov 2026"


# --- awarding ------------------------------------------------------------------------------------


def test_badge_award_is_idempotent_notified_once_and_pushed_once(alice, run, pushes) -> None:  # type: ignore[no-untyped-def]
    first = run(badge_award, member_id=alice.pk, badge="invitations_accepted", tier="silver",
                explanation="Awarded for 5 accepted invitations, the 5th on 3 Nov 2026")
    again = run(badge_award, member_id=alice.pk, badge="invitations_accepted", tier="silver",
                explanation="Awarded for 5 accepted invitations, the 5th on 3 Nov 2026")
    assert first is not None and again is None
    assert (first.awarded_at, first.key) == (NOW, "")
    assert list(Notification.objects.filter(member=alice).values_list("kind", "text", "link")) == [
        ("badge", "New badge: Connector (Silver). Awarded for 5 accepted invitations, the 5th on 3 Nov 2026.",
         "/badges/")]
    assert pushes == [(alice.pk, {"type": "me.changed", "what": ["badges"]})]


def test_the_live_push_reaches_only_the_members_sockets(alice, bob, run) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from leaderboards.live.broadcast import user_group

    layer = get_channel_layer()
    mine, theirs = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), mine)
    async_to_sync(layer.group_add)(user_group(bob.pk), theirs)
    run(badge_award, member_id=alice.pk, badge="first_friend", explanation="Awarded for your first friend: bob")

    async def drain(channel: str) -> list[dict]:
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.2))
            except TimeoutError:
                return received

    pushed = [m["payload"] for m in async_to_sync(drain)(mine) if m["type"] == "client.push"]
    assert [p for p in pushed if p["type"] == "me.changed"] == [{"type": "me.changed", "what": ["badges"]}]
    assert async_to_sync(drain)(theirs) == []


def test_a_muted_member_gets_the_badge_but_no_notification(alice, run, pushes) -> None:  # type: ignore[no-untyped-def]
    NotificationMute.objects.create(member=alice, kind=Notification.Kind.BADGE)
    assert run(badge_award, member_id=alice.pk, badge="one_year", explanation="x") is not None
    assert Notification.objects.filter(member=alice).count() == 0
    assert pushes == [(alice.pk, {"type": "me.changed", "what": ["badges"]})]  # the page still refreshes


def test_a_badge_never_changes_the_score(db, run) -> None:  # type: ignore[no-untyped-def]
    alice = member("alice", 640)
    ledger = list(ScoreChange.objects.filter(member=alice).values_list("pk", "new_score"))
    state = ScoreState.objects.filter(member=alice).values("base", "social", "score").get()
    run(badge_award, member_id=alice.pk, badge="first_friend", explanation="x")
    run(badges_evaluate, member_id=alice.pk)
    alice.refresh_from_db()
    assert (alice.score, alice.score_band) == (640, "Good")
    assert list(ScoreChange.objects.filter(member=alice).values_list("pk", "new_score")) == ledger
    assert ScoreState.objects.filter(member=alice).values("base", "social", "score").get() == state


def test_unknown_badges_and_tiers_are_refused(alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown badge 'nope'"):
        badge_award(member_id=alice.pk, badge="nope", explanation="x")
    with pytest.raises(ValueError, match="has no tier 'platinum'"):
        badge_award(member_id=alice.pk, badge="on_time_streak", tier="platinum", explanation="x")
    with pytest.raises(ValueError, match="has no tier ''"):
        badge_award(member_id=alice.pk, badge="on_time_streak", explanation="x")


def test_a_rolled_back_award_sends_nothing(alice, pushes) -> None:  # type: ignore[no-untyped-def]
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        badge_award(member_id=alice.pk, badge="first_friend", explanation="x")
        raise RuntimeError
    assert (BadgeAward.objects.count(), Notification.objects.count()) == (0, 0)


# --- triggers ------------------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """Record the evaluations the triggers ask for, and still run them."""
    calls: list[tuple[list[int], list[str]]] = []
    original = badges.badges_evaluate_later

    def spy(*, member_ids: list[int], families: list[str]) -> None:
        calls.append((member_ids, families))
        original(member_ids=member_ids, families=families)

    monkeypatch.setattr(badges, "badges_evaluate_later", spy)
    return calls


def test_a_score_change_triggers_only_when_the_band_goes_up(db, django_capture_on_commit_callbacks, enqueued) -> None:  # type: ignore[no-untyped-def]
    alice = member("alice")
    with django_capture_on_commit_callbacks(execute=True):
        scored(alice, 540)  # first score, Building: nothing to award
        scored(alice, 560)
        scored(alice, 590)  # the same band
        scored(alice, 540)  # down
        scored(alice, 555)  # up again: evaluated, but held already
    assert enqueued == [([alice.pk], ["bands"]), ([alice.pk], ["bands"])]
    assert [a[0] for a in awards(alice)] == ["band_fair"]


def test_accepting_an_invitation_awards_both_members(alice, bob, run, enqueued) -> None:  # type: ignore[no-untyped-def]
    created = run(invitations_services.invitation_create, inviter=alice, url_for=lambda token: f"https://credo.test/i/{token}")
    run(invitations_services.invitation_accept, token=created.token, user=bob)
    assert enqueued == [([alice.pk, bob.pk], ["social"])]
    assert awards(alice) == [
        ("first_friend", "", "", "Awarded for your first friend: bob, on 25 Nov 2026"),
        ("invitations_accepted", "bronze", "", "Awarded for your first accepted invitation on 25 Nov 2026"),
    ]
    assert awards(bob) == [("first_friend", "", "", "Awarded for your first friend: alice, on 25 Nov 2026")]


def test_scoring_the_third_months_payment_awards_the_streak(alice, acme, run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    paid_on_time(alice, acme, date(2026, 9, 3))
    paid_on_time(alice, acme, date(2026, 10, 3))
    run(scoring.member_state_ensure, member=alice)
    pending = paid_on_time(alice, acme, date(2026, 11, 3))
    Event.objects.filter(pk=pending.pk).update(status=Event.Status.PENDING)
    def streaks() -> list[tuple[str, str]]:
        return [(b, t) for b, t, _, _ in awards(alice) if b == "on_time_streak"]

    assert streaks() == []
    assert run(scoring.member_score_pending, member_id=alice.pk) == 1
    assert streaks() == [("on_time_streak", "bronze")]


# --- badges_rebuild --------------------------------------------------------------------------------


def test_badges_rebuild_awards_what_is_due_once(alice, bob) -> None:  # type: ignore[no-untyped-def]
    befriend(alice, bob, at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    invitations_used(alice, 5, first=datetime(2026, 10, 30, 18, 0, tzinfo=UTC))
    out = StringIO()
    call_command("badges_rebuild", stdout=out)
    assert out.getvalue().splitlines() == [
        "  alice: first_friend — Awarded for your first friend: bob, on 3 Nov 2026",
        "  alice: invitations_accepted/bronze — Awarded for your first accepted invitation on 30 Oct 2026",
        "  alice: invitations_accepted/silver — Awarded for 5 accepted invitations, the 5th on 3 Nov 2026",
        "  bob: first_friend — Awarded for your first friend: alice, on 3 Nov 2026",
        "Evaluated 2 member(s); awarded 4 badge(s).",
    ]
    again = StringIO()
    call_command("badges_rebuild", stdout=again)
    assert again.getvalue().splitlines() == ["Evaluated 2 member(s); awarded 0 badge(s)."]
    assert BadgeAward.objects.count() == 4


def test_badges_rebuild_for_one_member(alice, bob) -> None:  # type: ignore[no-untyped-def]
    befriend(alice, bob)
    out = StringIO()
    call_command("badges_rebuild", "--member", "bob", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Evaluated 1 member(s); awarded 1 badge(s)."
    assert list(BadgeAward.objects.values_list("member__username", flat=True)) == ["bob"]
    with pytest.raises(CommandError, match="No active member 'nobody'"):
        call_command("badges_rebuild", "--member", "nobody")


# --- the page, the card and the API --------------------------------------------------------------


@pytest.fixture
def alice_with_badges(alice, bob):  # type: ignore[no-untyped-def]
    befriend(alice, bob, at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    invitations_used(alice, 3, first=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    badges_evaluate(member_id=alice.pk)
    return alice


def test_the_badges_page_shows_earned_and_what_the_rest_take(client, alice_with_badges) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice_with_badges)
    page = client.get("/badges/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Awarded for your first friend: bob, on 3 Nov 2026" in html
    assert "Awarded for your first accepted invitation on 1 Nov 2026" in html
    assert "3 of 5 invitations accepted" in html
    assert "0 of 3 months on time in a row" in html
    assert "365 days as a member" in html


def test_the_badges_page_needs_a_login(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/badges/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_dashboard_card(client, alice_with_badges) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice_with_badges)
    html = client.get("/dashboard/").content.decode()
    assert 'id="badges-card"' in html
    assert "Badges <span class=\"hint\">(2)</span>" in html
    assert "Next: <strong>Connector</strong> (Silver) — 3 of 5 invitations accepted" in html


def test_the_api_lists_my_badges_and_the_catalogue_with_progress(api_as, alice_with_badges) -> None:  # type: ignore[no-untyped-def]
    body = api_as(alice_with_badges).get("/api/v1/me/badges/").json()
    assert body["earned"] == [
        {"badge": "invitations_accepted", "name": "Connector", "tier": "bronze", "key": "",
         "explanation": "Awarded for your first accepted invitation on 1 Nov 2026",
         "awarded_at": "2026-11-25T12:00:00+00:00"},
        {"badge": "first_friend", "name": "First friend", "tier": "", "key": "",
         "explanation": "Awarded for your first friend: bob, on 3 Nov 2026", "awarded_at": "2026-11-25T12:00:00+00:00"},
    ]
    catalogue = {c["badge"]: c for c in body["catalogue"]}
    assert list(catalogue) == [b.code for b in badges.CATALOGUE]
    assert catalogue["invitations_accepted"] == {
        "badge": "invitations_accepted", "name": "Connector",
        "description": "Friends joined you through your invitations.",
        "how": "Invite friends: each invitation they accept counts.", "repeatable": False,
        "tiers": [{"tier": "bronze", "goal": 1, "earned": True}, {"tier": "silver", "goal": 5, "earned": False},
                  {"tier": "gold", "goal": 25, "earned": False}],
        "earned": [body["earned"][0]],
        "next_tier": "silver",
        "progress": {"current": 3, "goal": 5, "text": "3 of 5 invitations accepted"},
    }
    assert catalogue["first_friend"]["progress"] is None
    assert catalogue["band_good"]["progress"] == {"current": 0, "goal": 600, "text": "No score yet"}
    assert catalogue["most_improved"]["progress"] is None


def test_a_stranger_sees_only_their_own_badges(api_as, alice_with_badges, mallory) -> None:  # type: ignore[no-untyped-def]
    body = api_as(mallory).get("/api/v1/me/badges/").json()
    assert body["earned"] == []
    assert all(c["earned"] == [] for c in body["catalogue"])


def test_the_api_needs_a_token(api, db) -> None:  # type: ignore[no-untyped-def]
    response = api.get("/api/v1/me/badges/")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "detail": "Authentication credentials were not provided."}


def test_the_api_costs_a_handful_of_queries(api_as, alice_with_badges, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = api_as(alice_with_badges)
    with django_assert_max_num_queries(7):
        assert client.get("/api/v1/me/badges/").status_code == 200
