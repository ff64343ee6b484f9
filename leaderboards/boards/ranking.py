"""What every board shares: the order, the ranks, the cursor and the Redis score encoding.

Order: higher value first; equal values by who reached them first (``reached``); then by
member id, highest first (the same order Redis gives members with equal scores, because index
members are zero-padded ids). Ranks are standard competition ranks (1, 2, 2, 4).

Redis score encoding (a double, exact up to 2**53): ``value × SPAN + (MAX_TIE − reached_ms)``
with ``reached_ms`` counted from ``EPOCH`` (2020-01-01 UTC) and clamped to ``[0, MAX_TIE]``
(~31 years). |value| ≤ 1,000 keeps every composite below 10**15 < 2**53, so decoding is exact.
"""

from __future__ import annotations

import base64
import binascii
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp() * 1000)
SPAN = 10**12
MAX_TIE = SPAN - 1
#: A cursor longer than this, or holding a value beyond ± this bound, is not one the API gave out.
CURSOR_MAX_CHARS = 200
CURSOR_VALUE_BOUND = 100_000


def reached_us(moment: datetime | None) -> int:
    """Microseconds since EPOCH (0 for "never": listed as the earliest)."""
    if moment is None:
        return 0
    delta = moment - EPOCH
    return max(0, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def encode(value: int, reached: int) -> int:
    """The Redis score of ``value`` reached at ``reached`` (µs since EPOCH)."""
    ms = min(max(reached // 1000, 0), MAX_TIE)
    return value * SPAN + (MAX_TIE - ms)


def decode(score: float) -> tuple[int, int]:
    """``(value, reached µs)`` back from a Redis score (ms precision)."""
    composite = int(score)
    value = composite // SPAN
    return value, (MAX_TIE - (composite - value * SPAN)) * 1000


def lowest_with(value: int) -> int:
    """The smallest composite of ``value``: ``ZCOUNT key lowest_with(v+1) +inf`` counts values > v."""
    return value * SPAN


def member_key(member_id: int) -> str:
    """Index member name: zero-padded so Redis' reverse-lexical tie order is "highest id first"."""
    return f"{member_id:012d}"


@dataclass(frozen=True)
class Item:
    """One member on a board, before ranking. ``value`` is a score or weekly points."""

    member_id: int
    value: int
    reached: int  # µs since EPOCH
    username: str = ""
    band: str = ""

    @property
    def order(self) -> tuple[int, int, int]:
        return board_order(self)


def board_order(item: Item) -> tuple[int, int, int]:
    """``Item.order`` as a plain function: the sort key of hot loops (no property lookup)."""
    return (-item.value, item.reached, -item.member_id)


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last item's (value, reached, member id). Opaque to clients."""

    value: int
    reached: int
    member_id: int

    @classmethod
    def after(cls, item: Item) -> Cursor:
        return cls(item.value, item.reached, item.member_id)

    @property
    def order(self) -> tuple[int, int, int]:
        return (-self.value, self.reached, -self.member_id)

    def encode(self) -> str:
        raw = f"{self.value}.{self.reached}.{self.member_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            value, reached, member_id = (int(part) for part in raw.split("."))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor(text) from exc
        if reached < 0 or member_id <= 0 or abs(value) > CURSOR_VALUE_BOUND:
            raise InvalidCursor(text)
        return cls(value, reached, member_id)


@dataclass(frozen=True)
class Entry:
    rank: int
    member_id: int
    username: str
    score: int
    band: str

    def as_dict(self, me_id: int | None) -> dict:
        return {"rank": self.rank, "username": self.username, "score": self.score, "band": self.band,
                "is_me": self.member_id == me_id}


@dataclass(frozen=True)
class Standing:
    """A member's place on a board: rank, value, how many are listed and how many are below."""

    rank: int
    value: int
    total: int
    below: int

    @property
    def percentile(self) -> float:
        """Share of the board strictly below this member, in percent (one decimal)."""
        return round(100.0 * self.below / self.total, 1) if self.total else 0.0


def ranks(items: Iterable[Item], *, first_rank: int = 1, first_position: int = 0) -> Iterator[tuple[int, Item]]:
    """``(rank, item)`` for consecutive items in board order, the first at ``first_rank`` and at
    0-based ``first_position`` on the board (rank == position + 1 unless tied with the one above)."""
    rank = first_rank
    previous: int | None = None
    for offset, item in enumerate(items):
        if previous is not None and item.value != previous:
            rank = first_position + offset + 1
        previous = item.value
        yield rank, item


def ranked(items: Sequence[Item], *, first_rank: int, first_position: int) -> list[Entry]:
    """Entries of consecutive items in board order (see ``ranks``)."""
    return [Entry(rank, item.member_id, item.username, item.value, item.band)
            for rank, item in ranks(items, first_rank=first_rank, first_position=first_position)]


def rank_all(items: Iterable[Item]) -> list[Entry]:
    """Sort and rank a whole board held in memory (friends boards)."""
    return ranked(sorted(items, key=board_order), first_rank=1, first_position=0)


#: A row that moved on a board: ``(before, after, passed_by)``; ``before`` None: it entered,
#: ``after`` None: it left; ``passed_by``: who went from below to above the viewer's own row.
Move = tuple[Entry | None, Entry | None, list[str]]


class RankedBoard:
    """A whole board held in memory and kept ranked while its members move: the friends board of
    a live consumer, which re-ranks on every change of a member it shows.

    ``put``/``remove`` cost a bisection and a list insert/delete (C memmove). ``changes()`` then
    re-ranks only the rows whose rank can have moved — ranks count the rows strictly above, so a
    member going from value a to b moves the ranks of rows valued between a and b (inclusive:
    ties), and a member entering or leaving at value v those of rows valued v or less — and
    returns the ones that did. A 600-row board with one member moving by a few points re-ranks a
    handful of rows, not 600; two members moving far apart re-rank their two handfuls, not what
    lies between (tests/leaderboards/sockets/test_live_board.py checks it all against ``rank_all``).
    """

    def __init__(self, items: Iterable[Item], *, viewer: int) -> None:
        self.viewer = viewer
        self.items: dict[int, Item] = {i.member_id: i for i in items}
        self.keys = sorted(board_order(i) for i in self.items.values())  # the board, in order
        self.entries: dict[int, Entry] = {
            i.member_id: Entry(rank, i.member_id, i.username, i.value, i.band) for rank, i in ranks(self._ordered())}
        self._before: dict[int, tuple[int, int, int] | None] = {}  # moved since changes(): old key (None: new)
        self._spans: list[tuple[float, float]] = []  # (low, high): values whose rows may have changed rank

    def __len__(self) -> int:
        return len(self.items)

    def _ordered(self, start: int = 0, end: int | None = None) -> Iterator[Item]:
        return (self.items[-key[2]] for key in self.keys[start:end])

    def ordered(self) -> dict[int, Entry]:
        """The rows as of the last ``changes()``, by member id in board order."""
        ranked_ids = sorted(self.entries, key=lambda m: self._before.get(m) or board_order(self.items[m]))
        return {m: self.entries[m] for m in ranked_ids}

    def put(self, item: Item) -> None:
        """``item``'s member enters the board, or moves to its value (and ``reached``)."""
        old = self.items.get(item.member_id)
        if old is not None:
            del self.keys[bisect_left(self.keys, board_order(old))]
        insort(self.keys, board_order(item))
        self.items[item.member_id] = item
        self._moved(old, item.member_id)
        self._spans.append((min(old.value, item.value), max(old.value, item.value)) if old is not None
                           else (-math.inf, item.value))

    def remove(self, member_id: int) -> None:
        old = self.items.pop(member_id, None)
        if old is not None:
            del self.keys[bisect_left(self.keys, board_order(old))]
            self._moved(old, member_id)
            self._spans.append((-math.inf, old.value))

    def _moved(self, old: Item | None, member_id: int) -> None:
        if member_id not in self._before:
            self._before[member_id] = board_order(old) if old is not None else None

    def changes(self) -> list[Move]:
        """``(before, after, passed_by)`` for each row whose rank or score moved since the last
        call, or that entered (``before`` None), in board order; then ``(before, None, [])`` for
        each member who left, in their old order. ``passed_by`` is for the viewer's row only (when
        it was and still is on the board): who was below the viewer and is now above."""
        out: list[Move] = []
        for start, end in self._runs():
            span = list(self._ordered(start, end))
            # Every row above a run is valued more than its first row: that one ranks start + 1.
            for position, (rank, item) in enumerate(ranks(span, first_rank=start + 1, first_position=start)):
                before = self.entries.get(item.member_id)
                if (before is not None and before.rank == rank and before.score == item.value
                        and before.band == item.band and before.username == item.username):
                    continue
                after = self.entries[item.member_id] = Entry(rank, item.member_id, item.username, item.value,
                                                             item.band)
                if before is None or before.rank != rank or before.score != item.value:
                    passed = self._passed_by(span[:position]) if item.member_id == self.viewer and before else []
                    out.append((before, after, passed))
        gone = sorted((key, m) for m, key in self._before.items() if key is not None and m not in self.items)
        out.extend((self.entries.pop(m), None, []) for _, m in gone)
        self._before, self._spans = {}, []
        return out

    def _runs(self) -> list[tuple[int, int]]:
        """The ``[start, end)`` positions of the rows valued within the pending spans, merged and
        top to bottom (the viewer's row, if it moved, is in the run of whoever passed it)."""
        runs: list[tuple[int, int]] = []
        for low, high in sorted(self._spans, key=lambda span: -span[1]):
            start = bisect_left(self.keys, (-high,))  # the first row valued ≤ high
            # ... and the first row valued < low (entering or leaving: all the rows below)
            end = len(self.keys) if low == -math.inf else bisect_left(self.keys, (-int(low) + 1,))
            if runs and start <= runs[-1][1]:
                runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
            elif start < end:
                runs.append((start, end))
        return runs

    def _passed_by(self, above_me: list[Item]) -> list[str]:
        """Who went from below the viewer to above since the last ``changes()``, in board order
        (``above_me``: the re-ranked rows above the viewer's; whoever passed the viewer is there)."""
        old_mine = self._before.get(self.viewer, board_order(self.items[self.viewer]))
        if old_mine is None:
            return []
        return [item.username for item in above_me
                if (old := self._before.get(item.member_id, board_order(item))) is not None and old > old_mine]
