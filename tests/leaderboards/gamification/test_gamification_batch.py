"""The gamification receivers of a scoring batch: one perks task for the members who crossed a
line (whatever their number), the streak badges only for members who may have paid on time,
streaks computed only for members still short of a tier, and a batch's badges read and awarded
in a number of statements that does not grow with it (with their notifications)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from leaderboards.gamification import badges, perks, tasks
from leaderboards.gamification.models import BadgeAward, PerkGrant
from scoring.ledger.signals import bases_changed, scores_changed
from scoring.ledger.streaks import Streak
from tests.leaderboards.conftest import member, scored

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue() -> None:
    """Perks at 650, 700 and 750 (the data migration's examples), thresholds not cached."""
    importlib.import_module("leaderboards.migrations.0003_perk_examples").add_examples(django_apps, None)
    perks.thresholds_forget()


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """The perk tasks enqueued (their arguments), run as they would be."""
    calls: list[tuple[str, tuple[object, ...]]] = []
    real = perks.enqueue_on_commit

    def spy(task_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if task_name.startswith("leaderboards.gamification.tasks.perk"):
            calls.append((task_name.rsplit(".", 1)[1], args))
        real(task_name, *args, **kwargs)

    monkeypatch.setattr(perks, "enqueue_on_commit", spy)
    return calls


def _move(*moves: tuple[int, int | None, int]) -> list[dict[str, object]]:
    return [{"member_id": pk, "old_score": old, "new_score": new, "cause": "event", "explanation": "test"}
            for pk, old, new in moves]


def test_a_batch_enqueues_one_perks_task_for_the_members_who_crossed_a_line(
        enqueued, django_capture_on_commit_callbacks):
    rising, falling, staying, far = (member(name, score) for name, score in
                                     (("rising", 640), ("falling", 705), ("staying", 660), ("far", 600)))
    for user, score in ((rising, 655), (falling, 695), (staying, 690), (far, 610)):
        type(user).objects.filter(pk=user.pk).update(score=score)
    enqueued.clear()  # what creating them enqueued (never run: it was not committed)
    with django_capture_on_commit_callbacks(execute=True):
        scores_changed.send(sender=None, changes=_move((rising.pk, 640, 655), (falling.pk, 705, 695),
                                                      (staying.pk, 660, 690), (far.pk, 600, 610)))
    assert enqueued == [("perks_sync_members", (sorted([rising.pk, falling.pk]), "score"))]
    # Synced: the two who crossed a line (the others' grants were never synced in this test).
    assert sorted(PerkGrant.objects.filter(revoked_at__isnull=True).values_list("member__username", "perk__slug")) == [
        ("falling", "deposit-free-rental"), ("rising", "deposit-free-rental")]


def test_a_batch_that_crosses_no_line_enqueues_nothing(enqueued, django_capture_on_commit_callbacks):
    user = member("quiet", 660)
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        scores_changed.send(sender=None, changes=_move((user.pk, 660, 690)))
        scores_changed.send(sender=None, changes=[])
    assert enqueued == []


def test_one_member_s_failing_sync_does_not_stop_the_others(monkeypatch):
    first, broken, last = member("first", 655), member("broken", 655), member("last", 655)
    real = perks.perks_sync

    def sync(*, member_id: int, cause: str = perks.Cause.SCORE) -> perks.PerkSync:
        if member_id == broken.pk:
            raise RuntimeError("boom")
        return real(member_id=member_id, cause=cause)

    monkeypatch.setattr(perks, "perks_sync", sync)
    assert tasks.perks_sync_members([last.pk, broken.pk, first.pk, first.pk]) == 2
    assert sorted(PerkGrant.objects.values_list("member__username", flat=True)) == ["first", "last"]
    assert Notification.objects.filter(kind=Notification.Kind.PERK).count() == 2


def test_a_database_that_is_down_fails_the_task_so_it_is_retried(monkeypatch):
    user = member("alone", 655)

    def down(**kwargs: object) -> perks.PerkSync:
        raise OperationalError("connection refused")

    monkeypatch.setattr(perks, "perks_sync", down)
    with pytest.raises(OperationalError):
        perks.perks_sync_many(member_ids=[user.pk])


# --- streak badges --------------------------------------------------------------------------------


@pytest.fixture
def pushes(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[tuple[int, dict[str, object]]] = []
    monkeypatch.setattr(badges, "member_push", lambda *, member_id, payload: sent.append((member_id, payload)))
    return sent


@pytest.fixture
def badge_calls(monkeypatch):  # type: ignore[no-untyped-def]
    calls: list[tuple[list[int], list[str]]] = []
    monkeypatch.setattr(badges, "badges_evaluate_later",
                        lambda *, member_ids, families: calls.append((member_ids, families)))
    return calls


def test_streaks_are_checked_for_the_members_who_may_have_paid_on_time(badge_calls):
    bases_changed.send(sender=None, member_ids=[3, 1, 2], payments_on_time=[2])
    bases_changed.send(sender=None, member_ids=[4], payments_on_time=[])
    assert badge_calls == [([2], [badges.STREAKS])]


def test_without_the_hint_every_member_is_checked(badge_calls):
    bases_changed.send(sender=None, member_ids=[3, 1, 3])
    bases_changed.send(sender=None, member_ids=[5], payments_on_time=None)
    assert badge_calls == [([1, 3], [badges.STREAKS]), ([5], [badges.STREAKS])]


def _streak(months: int) -> Streak:
    from datetime import date

    return Streak(current_months=months, best_months=months, last_on_time=date(2026, 11, 3), breaks_on=None,
                  today=date(2026, 11, 25), timezone="UTC")


def test_streaks_are_read_only_for_members_still_short_of_a_tier(monkeypatch):
    done, short = member("done", 620), member("short", 620)
    for tier in ("bronze", "silver", "gold"):
        BadgeAward.objects.create(member=done, badge=badges.STREAK, tier=tier, awarded_at=done.date_joined,
                                  explanation="x")
    asked: list[list[str]] = []

    def streaks(*, members, now=None):  # type: ignore[no-untyped-def]
        asked.append([m.username for m in members])
        return {m.pk: _streak(6) for m in members}

    monkeypatch.setattr(badges, "members_streaks", streaks)
    awarded = badges.badges_evaluate_many(member_ids=[done.pk, short.pk], families=[badges.STREAKS])
    assert asked == [["short"]]
    assert sorted((a.member.username, a.tier) for a in awarded) == [("short", "bronze"), ("short", "silver")]
    asked.clear()
    assert badges.badges_evaluate_many(member_ids=[done.pk], families=[badges.STREAKS]) == []
    assert asked == []  # nobody short of a tier: no read at all


# --- band badges and awards for a whole batch --------------------------------------------------------


def _evaluate_one_by_one(users: list[User], now: datetime) -> list[tuple[str, str, str, datetime]]:
    """What ``badges_evaluate`` awarded member by member (the reference)."""
    with transaction.atomic():
        for user in users:
            badges.badges_evaluate(member_id=user.pk, families=[badges.BANDS], now=now)
        out = _awards(users)
        transaction.set_rollback(True)
    return out


def _awards(users: list[User]) -> list[tuple[str, str, str, datetime]]:
    return sorted(BadgeAward.objects.filter(member__in=users).values_list(
        "member__username", "badge", "explanation", "awarded_at"))


def _band_world() -> list[User]:
    """Members whose ledgers reach the band badges every way ``band_reached`` reads them."""
    day = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    climber = member("climber", 540, at=day)
    scored(climber, 560, at=day + timedelta(days=1))
    scored(climber, 520, at=day + timedelta(days=2))
    scored(climber, 712, at=day + timedelta(days=3))  # over three bands at once
    holder = member("holder", 655, at=day)  # holds Fair already: only the others are due
    BadgeAward.objects.create(member=holder, badge=badges.BAND_FAIR, awarded_at=day, explanation="earlier")
    # A score with no ledger row at that height (set behind the ledger's back): the current
    # score and when it was reached answer, as in band_reached.
    silent = member("silent", 540, at=day)
    User.objects.filter(pk=silent.pk).update(score=605, score_reached_at=day + timedelta(hours=5))
    low = member("low", 500, at=day)  # nothing reached
    return [User.objects.get(pk=u.pk) for u in (climber, holder, silent, low)]


def test_a_batch_awards_the_band_badges_one_member_at_a_time_would(pushes, django_capture_on_commit_callbacks):
    users = _band_world()
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    expected = _evaluate_one_by_one(users, now)
    pushes.clear()  # the reference's, rolled back with it
    with django_capture_on_commit_callbacks(execute=True):
        awarded = badges.badges_evaluate_many(member_ids=[u.pk for u in users], families=[badges.BANDS], now=now)
    assert _awards(users) == expected
    assert sorted((a.member_id, a.badge) for a in awarded) == sorted(
        (u.pk, b) for u, b in [(users[0], badges.BAND_FAIR), (users[0], badges.BAND_GOOD),
                               (users[0], badges.BAND_VERY_GOOD), (users[0], badges.BAND_EXCELLENT),
                               (users[1], badges.BAND_GOOD), (users[1], badges.BAND_VERY_GOOD),
                               (users[2], badges.BAND_FAIR), (users[2], badges.BAND_GOOD)])
    assert all(a.pk for a in awarded)
    assert ("silent", badges.BAND_GOOD, "Awarded for reaching Good (600+): 605 on 2 Nov 2026", now) in [
        (n, b, e, at) for n, b, e, at in _awards(users)]
    # One notification per award, one push per member who got any.
    assert Notification.objects.filter(kind=Notification.Kind.BADGE).count() == 8
    assert sorted(pk for pk, _ in pushes) == sorted([users[0].pk, users[1].pk, users[2].pk])


def test_a_batch_costs_the_same_queries_for_4_or_40_members(django_assert_num_queries):
    def world(prefix: str, n: int) -> list[int]:
        return [member(f"{prefix}{i:02d}", 560 + i).pk for i in range(n)]

    few, many = world("few", 4), world("many", 40)

    def count(ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as queries:
            badges.badges_evaluate_many(member_ids=ids, families=[badges.BANDS])
        return len(queries)

    # Members, held awards, best scores, one query per band reached (Fair only here), the
    # awards' INSERT, the mutes, the notifications' INSERT, and the savepoint around them
    # (SAVEPOINT, RELEASE). One at a time, this was ≈ 10 statements per member.
    assert count(few) == count(many) == 9
    assert BadgeAward.objects.filter(badge=badges.BAND_FAIR).count() == 44


def test_a_second_batch_awards_nothing_again_and_notifies_nobody(pushes):
    users = _band_world()
    first = badges.badges_evaluate_many(member_ids=[u.pk for u in users], families=[badges.BANDS])
    pushes.clear()
    assert len(first) == 8
    assert badges.badges_award_many(due=[(users[0].pk, badges.Due(badges.BAND_FAIR, "", "", "again"))]) == []
    assert badges.badges_evaluate_many(member_ids=[u.pk for u in users], families=[badges.BANDS]) == []
    assert Notification.objects.filter(kind=Notification.Kind.BADGE).count() == 8 and pushes == []


def test_a_muted_member_gets_the_badges_of_a_batch_but_no_notification(pushes):
    users = _band_world()
    NotificationMute.objects.create(member=users[0], kind=Notification.Kind.BADGE)
    badges.badges_evaluate_many(member_ids=[u.pk for u in users], families=[badges.BANDS])
    assert BadgeAward.objects.filter(member=users[0]).count() == 4
    assert list(Notification.objects.filter(kind=Notification.Kind.BADGE).order_by("id").values_list(
        "member__username", "text")) == [
        ("holder", "New badge: Good band. Awarded for reaching Good (600+): 655 on 2 Nov 2026."),
        ("holder", "New badge: Very good band. Awarded for reaching Very good (650+): 655 on 2 Nov 2026."),
        ("silent", "New badge: Fair band. Awarded for reaching Fair (550+): 605 on 2 Nov 2026."),
        ("silent", "New badge: Good band. Awarded for reaching Good (600+): 605 on 2 Nov 2026."),
    ]
    assert users[0].pk in {pk for pk, _ in pushes}  # the page still refreshes


def test_unknown_badges_and_tiers_are_refused_in_a_batch_before_anything_is_written(alice):
    with pytest.raises(ValueError, match="unknown badge 'nope'"):
        badges.badges_award_many(due=[(alice.pk, badges.Due(badges.ONE_YEAR, "", "", "x")),
                                      (alice.pk, badges.Due("nope", "", "", "x"))])
    with pytest.raises(ValueError, match="has no tier 'platinum'"):
        badges.badges_award_many(due=[(alice.pk, badges.Due(badges.STREAK, "platinum", "", "x"))])
    assert not BadgeAward.objects.exists()


def test_a_row_the_database_refuses_falls_back_to_one_award_at_a_time(postgres, alice, pushes):
    gone = 10_000_000  # no such member: its row breaks the batch (foreign key)
    with connection.cursor() as cursor:  # checked at once, not at the (test's) commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    awarded = badges.badges_award_many(due=[(alice.pk, badges.Due(badges.ONE_YEAR, "", "", "A year")),
                                            (gone, badges.Due(badges.ONE_YEAR, "", "", "A year"))])
    assert [(a.member_id, a.badge) for a in awarded] == [(alice.pk, badges.ONE_YEAR)]
    assert list(BadgeAward.objects.values_list("member_id", flat=True)) == [alice.pk]
    assert Notification.objects.filter(member=alice, kind=Notification.Kind.BADGE).count() == 1
    assert pushes == [(alice.pk, {"type": "me.changed", "what": ["badges"]})]


# --- notifications for a batch ----------------------------------------------------------------------


def test_notify_many_writes_what_notify_writes_and_announces_each_after_commit(
        alice, bob, django_capture_on_commit_callbacks):
    from accounts.notifications.feed import notify, notify_many
    from accounts.notifications.signals import notifications_created

    NotificationMute.objects.create(member=bob, kind=Notification.Kind.BADGE)
    announced: list[list[tuple[int, int]]] = []

    def receiver(sender, notifications, **kwargs):  # type: ignore[no-untyped-def]
        announced.append(notifications)

    notifications_created.connect(receiver, weak=False, dispatch_uid="test_notify_many")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            rows = notify_many(kind=Notification.Kind.BADGE, link="/badges/",
                               items=[(alice.pk, "one"), (bob.pk, "muted"), (alice.pk, "x" * 2500)])
        assert announced == []  # nothing before commit
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            single = notify(member_id=alice.pk, kind=Notification.Kind.BADGE, text="one", link="/badges/")
            assert notify_many(kind=Notification.Kind.BADGE, items=[]) == []
    finally:
        notifications_created.disconnect(dispatch_uid="test_notify_many")
    assert [(r.member_id, r.text[:3], len(r.text), r.link) for r in rows] == [
        (alice.pk, "one", 3, "/badges/"), (alice.pk, "xxx", 2000, "/badges/")]
    # One announcement per writing call, none for an empty batch.
    assert announced == [[(rows[0].pk, alice.pk), (rows[1].pk, alice.pk)], [(single.pk, alice.pk)]]
    # An unmutable kind reaches a member who muted everything else.
    NotificationMute.objects.create(member=bob, kind=Notification.Kind.PERK)
    [account] = notify_many(kind=Notification.Kind.ACCOUNT, items=[(bob.pk, "frozen")])
    assert (account.member_id, account.kind) == (bob.pk, Notification.Kind.ACCOUNT)


def test_the_live_payloads_are_one_statement_with_the_unread_count(alice, bob, django_assert_num_queries):
    from accounts.notifications.feed import live_payloads, notify

    first = notify(member_id=alice.pk, kind=Notification.Kind.BADGE, text="first", link="/badges/")
    second = notify(member_id=alice.pk, kind=Notification.Kind.PERK, text="second")
    bobs = notify(member_id=bob.pk, kind=Notification.Kind.PERK, text="bob's")
    assert first is not None and second is not None and bobs is not None
    Notification.objects.filter(pk=first.pk).update(read_at=first.created_at)
    with django_assert_num_queries(1):
        payloads = live_payloads(notification_ids=[second.pk, bobs.pk, first.pk])
    assert payloads == {
        second.pk: {"id": second.pk, "kind": "perk", "text": "second", "link": "",
                    "created_at": second.created_at.isoformat(), "unread_count": 1},
        bobs.pk: {"id": bobs.pk, "kind": "perk", "text": "bob's", "link": "",
                  "created_at": bobs.created_at.isoformat(), "unread_count": 1},
        first.pk: {"id": first.pk, "kind": "badge", "text": "first", "link": "/badges/",
                   "created_at": first.created_at.isoformat(), "unread_count": 1},
    }
    Notification.objects.filter(pk=second.pk).delete()
    assert list(live_payloads(notification_ids=[second.pk, bobs.pk])) == [bobs.pk]  # gone: left out
    with django_assert_num_queries(0):
        assert live_payloads(notification_ids=[]) == {}


def test_many_live_payloads_are_read_in_chunks(alice, monkeypatch, django_assert_num_queries):
    from accounts.notifications import feed

    rows = feed.notify_many(kind=Notification.Kind.BADGE, items=[(alice.pk, f"n{i}") for i in range(5)])
    monkeypatch.setattr(feed, "LIVE_CHUNK", 2)
    with django_assert_num_queries(3):
        payloads = feed.live_payloads(notification_ids=[row.pk for row in rows])
    assert [(payloads[row.pk]["text"], payloads[row.pk]["unread_count"]) for row in rows] == [
        ("n0", 5), ("n1", 5), ("n2", 5), ("n3", 5), ("n4", 5)]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_award_once_and_notify_once(postgres, monkeypatch):
    """Both batches read "not held" before either commits; each holds its transaction open
    after its INSERT (a slow ``notify_many``), so they overlap: the second INSERT waits on the
    first's index entries and, once that commits, inserts (and returns) nothing."""
    import time

    from tests.leaderboards.gamification.test_badges_races import WINDOW, run_together

    users = [member(f"racer{i}", 560 + i) for i in range(3)]
    # Scoring them awarded their badges at once (no transaction here): start from none held.
    BadgeAward.objects.all().delete()
    Notification.objects.all().delete()
    real = badges.notify_many

    def slow(**kwargs):  # type: ignore[no-untyped-def]
        rows = real(**kwargs)
        time.sleep(WINDOW)
        return rows

    monkeypatch.setattr(badges, "notify_many", slow)
    pushed: list[int] = []
    monkeypatch.setattr(badges, "member_push", lambda *, member_id, payload: pushed.append(member_id))

    def evaluate() -> list[BadgeAward]:
        return badges.badges_evaluate_many(member_ids=[u.pk for u in users], families=[badges.BANDS])

    first, second = run_together(evaluate, evaluate)
    assert sorted([len(first), len(second)]) == [0, 3]
    assert BadgeAward.objects.filter(badge=badges.BAND_FAIR).count() == 3
    assert Notification.objects.filter(kind=Notification.Kind.BADGE).count() == 3
    assert sorted(pushed) == sorted(u.pk for u in users)
