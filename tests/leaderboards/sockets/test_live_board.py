"""The live consumer's in-memory friends board: incremental re-ranking == ranking from scratch.

``RankedBoard.changes()`` re-ranks only the rows whose rank can have moved; the reference is the
whole board ranked again with ``rank_all`` and compared with ``subscriptions.diff`` (what a reload
sends). Random boards with many ties (few values, few moments) and random bursts of moves,
entries and exits.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboards.boards.ranking import Entry, Item, RankedBoard, rank_all
from leaderboards.sockets.subscriptions import diff

VIEWER = 1
MEMBERS = st.integers(min_value=1, max_value=12)
# None: the member leaves the board; else (value, reached): few of each, so ties are common.
MOVES = st.tuples(MEMBERS, st.one_of(st.none(), st.tuples(st.integers(600, 606), st.integers(0, 3))))


def item(member_id: int, value: int, reached: int) -> Item:
    return Item(member_id, value, reached, f"m{member_id}", f"band{value % 3}")


def ranked(items: dict[int, Item]) -> dict[int, Entry]:
    return {e.member_id: e for e in rank_all(items.values())}


def rows(entries: dict[int, Entry]) -> list[Entry]:
    return list(entries.values())  # in order: dict equality would not look at it


@settings(max_examples=400, deadline=None)
@given(start=st.dictionaries(MEMBERS, st.tuples(st.integers(600, 606), st.integers(0, 3)), max_size=12),
       bursts=st.lists(st.lists(MOVES, max_size=5), max_size=8))
def test_incremental_changes_equal_a_full_rerank(start, bursts):
    items = {m: item(m, v, r) for m, (v, r) in start.items()}
    board = RankedBoard(items.values(), viewer=VIEWER)
    assert rows(board.ordered()) == rows(ranked(items))
    for burst in bursts:
        shown = ranked(items)
        for member_id, move in burst:
            if move is None:
                items.pop(member_id, None)
                board.remove(member_id)
            else:
                items[member_id] = item(member_id, *move)
                board.put(items[member_id])
        assert rows(board.ordered()) == rows(shown)  # until changes(), the client's rows stay as they were
        assert board.changes() == diff(shown, ranked(items), me=VIEWER)
        assert rows(board.ordered()) == rows(ranked(items))
        assert len(board) == len(items)
        assert board.changes() == []


def test_a_move_on_a_big_board_changes_only_the_rows_it_crossed():
    items = [item(m, 7000 - 10 * m, 0) for m in range(1, 601)]  # 6990, 6980, ... one row per value
    board = RankedBoard(items, viewer=VIEWER)
    board.put(item(300, 7000 - 10 * 297 + 5, 1))  # from rank 300 to 297, passing 297, 298 and 299
    moves = board.changes()
    assert [(b.rank if b else None, a.rank if a else None, a.username if a else None) for b, a, _ in moves] == [
        (300, 297, "m300"), (297, 298, "m297"), (298, 299, "m298"), (299, 300, "m299")]


def test_the_viewer_is_told_who_passed_them_and_leavers_come_last():
    board = RankedBoard([item(1, 700, 0), item(2, 650, 0), item(3, 640, 0), item(4, 600, 0)], viewer=VIEWER)
    board.put(item(2, 720, 1))
    board.put(item(3, 710, 1))
    board.remove(4)
    assert board.changes() == [
        (Entry(2, 2, "m2", 650, "band2"), Entry(1, 2, "m2", 720, "band0"), []),
        (Entry(3, 3, "m3", 640, "band1"), Entry(2, 3, "m3", 710, "band2"), []),
        (Entry(1, 1, "m1", 700, "band1"), Entry(3, 1, "m1", 700, "band1"), ["m2", "m3"]),
        (Entry(4, 4, "m4", 600, "band0"), None, []),
    ]


def test_a_member_who_passes_the_viewer_from_afar_is_named_even_with_nobody_in_between():
    board = RankedBoard([item(1, 610, 0), item(2, 600, 0), item(3, 500, 0)], viewer=VIEWER)
    shown = board.ordered()
    board.put(item(2, 615, 1))  # from below the viewer to the top ...
    board.put(item(1, 595, 1))  # ... while the viewer drops: no row is left between their moves
    moves = board.changes()
    assert moves == diff(shown, board.ordered(), me=VIEWER)
    assert [(a.username if a else None, passed) for _, a, passed in moves] == [("m2", []), ("m1", ["m2"])]
