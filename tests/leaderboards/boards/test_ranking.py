"""The shared order, ranks, cursor and Redis score encoding (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leaderboards.boards.ranking import Cursor, InvalidCursor, Item, decode, encode, rank_all, reached_us


def test_standard_competition_ranking_lists_ties_by_who_got_there_first():
    items = [Item(1, 700, 5), Item(2, 650, 9), Item(3, 650, 2), Item(4, 600, 1), Item(5, 720, 7)]
    entries = rank_all(items)
    assert [(e.member_id, e.rank) for e in entries] == [(5, 1), (1, 2), (3, 3), (2, 3), (4, 5)]


def test_equal_score_and_moment_fall_back_to_the_highest_id_like_redis():
    entries = rank_all([Item(7, 600, 1), Item(12, 600, 1), Item(9, 600, 1)])
    assert [(e.member_id, e.rank) for e in entries] == [(12, 1), (9, 1), (7, 1)]


@pytest.mark.parametrize("value", [950, 350, 0, -1, -600, 600])
def test_encoding_round_trips_and_orders_like_the_board(value):
    early = reached_us(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    late = early + 1_000
    assert decode(float(encode(value, early))) == (value, early)
    # Same value: reached earlier ranks higher. Higher value always wins, whatever the time.
    assert encode(value, early) > encode(value, late)
    assert encode(value + 1, late) > encode(value, early)
    assert encode(950, early) < 2**53


def test_cursor_round_trips_and_refuses_garbage():
    cursor = Cursor(650, 123_456_000, 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ["", "nope", "!!!", Cursor(650, 1, 42).encode()[:-3] + "*"]:
        with pytest.raises(InvalidCursor):
            Cursor.decode(bad)
