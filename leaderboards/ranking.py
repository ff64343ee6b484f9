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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp() * 1000)
SPAN = 10**12
MAX_TIE = SPAN - 1


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
        return (-self.value, self.reached, -self.member_id)


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
        if reached < 0 or member_id <= 0 or abs(value) > 100_000:
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


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next: Cursor | None
    total: int


def ranked(items: Sequence[Item], *, first_rank: int, first_position: int) -> list[Entry]:
    """Ranks of consecutive items in board order, the first at ``first_rank`` and at 0-based
    ``first_position`` on the board (rank == position + 1 unless tied with the one above)."""
    entries: list[Entry] = []
    previous: Item | None = None
    for offset, item in enumerate(items):
        if previous is None:
            rank = first_rank
        elif item.value == previous.value:
            rank = entries[-1].rank
        else:
            rank = first_position + offset + 1
        entries.append(Entry(rank, item.member_id, item.username, item.value, item.band))
        previous = item
    return entries


def rank_all(items: Iterable[Item]) -> list[Entry]:
    """Sort and rank a whole board held in memory (friends boards, live consumers)."""
    ordered = sorted(items, key=lambda i: i.order)
    return ranked(ordered, first_rank=1, first_position=0)
