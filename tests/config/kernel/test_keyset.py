"""Keyset cursors: what one encodes comes back; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.kernel.keyset import InvalidCursor, cursor_decode, cursor_encode


def test_a_cursor_round_trips() -> None:
    at = datetime(2026, 12, 7, 21, 40, 5, 123456, tzinfo=UTC)
    cursor = cursor_encode(at, 4711)
    assert "=" not in cursor
    assert cursor_decode(cursor) == (at, 4711)


@pytest.mark.parametrize("cursor", [
    "", "!!!", "bm90IGEgY3Vyc29y",  # "not a cursor"
    cursor_encode(datetime(2026, 1, 1), 1),  # a naive moment
    "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHxhYmM",  # "2026-01-01T00:00:00+00:00|abc"
    "_w",  # bytes that are not UTF-8
    "MDAwMS0wMS0wMVQwMDowMCsxMjowMHwx",  # "0001-01-01T00:00+12:00|1": before the calendar's start in UTC
])
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        cursor_decode(cursor)
