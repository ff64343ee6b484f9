"""Boards on both backends: the database (embedded mode) and the Redis index (services mode).

Every test runs twice (``backend`` fixture) and must give the same answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.members.models import User
from leaderboards.boards import backends as boards
from leaderboards.boards import services
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.boards.ranking import Cursor
from leaderboards.live import protocol
from tests.leaderboards.conftest import befriend, member, scored

# A Wednesday: the season runs from Monday 2026-11-23 00:00 UTC to Monday 2026-11-30.
WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rows(view: boards.BoardView) -> list[tuple[int, str, int]]:
    return [(e.rank, e.username, e.score) for e in view.entries]


def global_view(viewer: User, **kwargs) -> boards.BoardView:  # type: ignore[no-untyped-def]
    return services.board_for(protocol.GLOBAL, viewer=viewer).view(viewer_id=viewer.pk, **kwargs)


@pytest.fixture
def wednesday():  # type: ignore[no-untyped-def]
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_global_ties_rank_1_2_2_4_listed_by_who_reached_the_score_first(backend, wednesday):
    alice = member("alice", 700, at=at(1))
    member("bob", 650, at=at(5))
    member("carol", 650, at=at(2))
    member("dave", 600, at=at(3))
    view = global_view(alice)
    assert rows(view) == [(1, "alice", 700), (2, "carol", 650), (2, "bob", 650), (4, "dave", 600)]
    assert [e.band for e in view.entries] == ["Excellent", "Very good", "Very good", "Good"]
    assert view.total == 4
    assert view.me is not None and (view.me.rank, view.me.percentile) == (1, 75.0)
    assert view.next is None


@pytest.mark.django_db
def test_global_leaves_out_private_inactive_unscored_and_not_opted_in(backend, wednesday):
    alice = member("alice", 700, at=at(1))
    member("bob", 650, at=at(2), global_board=False)
    member("carol", 640, at=at(3), private_mode=True)
    member("dave", 630, at=at(4), is_active=False)
    member("erin")  # never scored
    member("frank", 620, at=at(5))
    member("grace", 610, at=at(6), is_frozen=True)
    assert rows(global_view(alice)) == [(1, "alice", 700), (2, "frank", 620)]


@pytest.mark.django_db
def test_members_who_leave_after_being_indexed_disappear_at_once(backend, wednesday):
    """No signal reaches the index when a moderator deactivates someone: the read checks."""
    alice = member("alice", 700, at=at(1))
    member("bob", 690, at=at(2))
    member("carol", 680, at=at(3))
    member("dave", 670, at=at(4))
    User.objects.filter(username="bob").update(is_active=False)
    User.objects.filter(username="carol").update(private_mode=True)
    User.objects.filter(username="dave").update(is_frozen=True)
    assert rows(global_view(alice)) == [(1, "alice", 700)]
    assert global_view(alice).total == 1


@pytest.mark.django_db
def test_cursor_pages_walk_the_whole_board_once(backend, wednesday):
    viewer = member("viewer", 500, at=at(0))
    for n in range(11):
        member(f"m{n:02d}", 600 + (n // 2) * 10, at=at(n + 1))  # pairs of equal scores
    seen: list[tuple[int, str, int]] = []
    view = global_view(viewer, limit=4)
    pages = 1
    while view.next is not None:
        seen += rows(view)
        view = global_view(viewer, limit=4, cursor=view.next)
        pages += 1
    seen += rows(view)
    assert pages == 3
    whole = rows(global_view(viewer, limit=100))
    assert seen == whole
    assert len(whole) == 12
    assert whole[:4] == [(1, "m10", 650), (2, "m08", 640), (2, "m09", 640), (4, "m06", 630)]
    assert whole[-1] == (12, "viewer", 500)


@pytest.mark.django_db
def test_around_me_centres_the_window_on_me(backend, wednesday):
    people = [member(f"m{n:02d}", 900 - n * 10, at=at(n)) for n in range(20)]
    me = people[10]
    view = global_view(me, limit=5, around_me=True)
    assert rows(view) == [(9, "m08", 820), (10, "m09", 810), (11, "m10", 800), (12, "m11", 790), (13, "m12", 780)]
    assert view.me is not None and view.me.rank == 11 and view.me.percentile == 45.0
    assert view.next == Cursor(780, view.next.reached, people[12].pk)
    # Near the top the window starts at the top.
    assert rows(global_view(people[0], limit=3, around_me=True))[0] == (1, "m00", 900)


@pytest.mark.django_db
def test_around_me_when_i_am_not_listed_shows_the_top(backend, wednesday):
    shy = member("shy", 800, at=at(1), global_board=False)
    member("bob", 700, at=at(2))
    view = global_view(shy, limit=5, around_me=True)
    assert rows(view) == [(1, "bob", 700)]
    assert view.me is None


@pytest.mark.django_db
def test_friends_board_is_me_and_my_friends_without_private_ones(backend, wednesday):
    alice = member("alice", 640, at=at(1), global_board=False)
    bob = member("bob", 700, at=at(2), global_board=False)
    carol = member("carol", 640, at=at(0), global_board=False)
    dave = member("dave", 900, at=at(3), private_mode=True)
    mallory = member("mallory", 950, at=at(4))
    for friend in (bob, carol, dave):
        befriend(alice, friend)
    befriend(bob, mallory)
    view = services.board_for(protocol.FRIENDS, viewer=alice).view(viewer_id=alice.pk)
    assert rows(view) == [(1, "bob", 700), (2, "carol", 640), (2, "alice", 640)]
    assert [e.as_dict(alice.pk)["is_me"] for e in view.entries] == [False, False, True]
    assert view.me is not None and view.me.rank == 2
    # bob sees alice and mallory, not carol (not his friend).
    bobs = services.board_for(protocol.FRIENDS, viewer=bob).view(viewer_id=bob.pk)
    assert rows(bobs) == [(1, "mallory", 950), (2, "bob", 700), (3, "alice", 640)]


@pytest.mark.django_db
def test_friends_board_pages_with_cursors(backend, wednesday):
    me = member("me", 500, at=at(0))
    for n in range(7):
        befriend(me, member(f"f{n}", 600 + n, at=at(n + 1)))
    board = services.board_for(protocol.FRIENDS, viewer=me)
    first = board.view(viewer_id=me.pk, limit=3)
    assert [e.username for e in first.entries] == ["f6", "f5", "f4"]
    second = board.view(viewer_id=me.pk, limit=3, cursor=first.next)
    third = board.view(viewer_id=me.pk, limit=3, cursor=second.next)
    assert [e.username for e in second.entries + third.entries] == ["f3", "f2", "f1", "f0", "me"]
    assert third.next is None


@pytest.mark.django_db
def test_weekly_counts_points_since_monday_from_the_score_at_the_season_start(backend):
    with time_machine.travel(MONDAY - timedelta(days=3), tick=False):
        alice = member("alice", 600)
        bob = member("bob", 650)
        carol = member("carol", 700)
    with time_machine.travel(WEDNESDAY, tick=False):
        scored(alice, 640)  # +40
        scored(bob, 640)  # −10
        scored(carol, 720)  # +20
        scored(carol, 740, at=WEDNESDAY + timedelta(seconds=1))  # +40 in all, after alice
        newcomer = member("newcomer", 610)  # first score this week: baseline 610
        scored(newcomer, 620, at=WEDNESDAY + timedelta(seconds=2))  # +10
        view = services.board_for(protocol.WEEKLY, viewer=alice).view(viewer_id=alice.pk)
        data = view.as_dict(viewer_id=alice.pk)
    assert rows(view) == [(1, "alice", 40), (1, "carol", 40), (3, "newcomer", 10), (4, "bob", -10)]
    assert [e.band for e in view.entries] == ["Good", "Excellent", "Good", "Good"]
    season = view.season
    assert season is not None and (season.starts_at, season.ends_at) == (MONDAY, MONDAY + timedelta(days=7))
    assert data["season"]["time_left"] == 4 * 86_400 + 12 * 3600
    assert SeasonEntry.objects.get(member=carol, season=season).start_score == 700


@pytest.mark.django_db
def test_weekly_rollover_opens_a_new_season_and_keeps_the_old_one_read_only(backend):
    with time_machine.travel(WEDNESDAY, tick=False):
        alice = member("alice", 600)
        bob = member("bob", 600)
        scored(alice, 650)
        scored(bob, 620, at=WEDNESDAY + timedelta(seconds=1))
        first = services.season_current()
    with time_machine.travel(MONDAY + timedelta(days=7, minutes=1), tick=False):
        scored(bob, 700)  # +80 this week, but it must not touch last week's standings
        current = services.board_for(protocol.WEEKLY, viewer=alice).view(viewer_id=alice.pk)
        past = services.board_for(protocol.WEEKLY, viewer=alice, season=first).view(viewer_id=alice.pk)
    first.refresh_from_db()
    assert first.closed
    assert current.season is not None and current.season.pk != first.pk
    assert rows(current) == [(1, "bob", 80)]
    assert rows(past) == [(1, "alice", 50), (2, "bob", 20)]
    assert dict(SeasonEntry.objects.filter(season=first).values_list("member__username", "final_rank")) == {
        "alice": 1, "bob": 2}
    assert Season.objects.count() == 2


@pytest.mark.django_db
def test_index_version_rises_with_each_change(backend, wednesday):
    alice = member("alice", 600)
    before = global_view(alice).seq
    scored(alice, 610)
    assert global_view(alice).seq == before + 1


@pytest.mark.django_db
def test_hot_reads_have_pinned_query_counts(backend, wednesday, django_assert_max_num_queries):
    me = member("me", 600, at=at(0))
    for n in range(30):
        friend = member(f"f{n:02d}", 500 + n * 7, at=at(n + 1))
        befriend(me, friend)
    services.season_current()
    # The database backend counts and pages in SQL; the Redis one checks its page in one query.
    limits = {"database": 4, "redis": 1}
    with django_assert_max_num_queries(limits[backend]):
        global_view(me, limit=20)
    with django_assert_max_num_queries(limits[backend] + 1):
        global_view(me, limit=20, around_me=True)
    with django_assert_max_num_queries(2):
        services.board_for(protocol.FRIENDS, viewer=me).view(viewer_id=me.pk, limit=50)
    with django_assert_max_num_queries(limits[backend] + 1):
        services.board_for(protocol.WEEKLY, viewer=me).view(viewer_id=me.pk, limit=20)
