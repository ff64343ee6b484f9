"""Do the boards members see match the database, the truth? Reads only.

``manage.py leaderboards_rebuild --check`` and the nightly ``index_reconcile`` compare, entry by
entry, what a rebuild would write with what is there:

* the Redis index (services mode): every listed member's place on the friends index (``all``),
  the global board, this week's board, and every member's card (what a friends board shows);
  an index that lost its data (no ``ready`` sentinel) counts as a difference, its boards being
  read from the database meanwhile;
* this week's entries in the database (both modes): points = score − the week's start score.

A member whose score moves while the check reads would show as a difference; every difference
found is read again after ``RECHECK_SECONDS`` and counted only if it is still there.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F
from django.utils import timezone

from accounts.members.models import User
from leaderboards.boards import index, selectors
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.boards.ranking import decode, encode, member_key, reached_us

#: Seconds before the differences found are read again (a score moving while the check reads).
RECHECK_SECONDS = 1.0
#: Members read per statement / per SCAN step.
CHUNK = 10_000


@dataclass
class BoardsCheck:
    """What differs: entries per board (``all``, ``global``, ``weekly``, ``cards``, and the
    database's own ``weekly_entries``), the largest difference in a listed value (points of
    score, or weekly points), and whether the index was complete (None: embedded mode)."""

    compared: int = 0
    differences: dict[str, int] = field(default_factory=dict)
    largest_gap: int = 0
    index_ready: bool | None = None

    @property
    def total(self) -> int:
        return sum(self.differences.values()) + (1 if self.index_ready is False else 0)

    @property
    def differs(self) -> bool:
        return self.total > 0

    def figures(self) -> dict[str, Any]:
        return {"compared": self.compared, "board_differences": self.total, "largest_gap": self.largest_gap,
                "index_ready": self.index_ready, **{f"differ_{name}": n for name, n in self.differences.items()}}


def boards_check(*, recheck_seconds: float = RECHECK_SECONDS) -> BoardsCheck:
    """Compare every board entry with the database (module docstring)."""
    season = _season()
    found, gaps, compared = _compare(season, None)
    if any(found.values()) and recheck_seconds > 0:
        time.sleep(recheck_seconds)
        suspects = set().union(*found.values())
        found, gaps, _ = _compare(season, suspects)
    check = BoardsCheck(compared=compared, differences={name: len(ids) for name, ids in found.items()},
                        largest_gap=max(gaps.values(), default=0))
    if index.enabled():
        check.index_ready = index.is_ready()
    return check


def _season() -> Season | None:
    """This week's season, if it was opened (a check opens nothing)."""
    return Season.objects.filter(starts_at=selectors.week_start(timezone.now())).first()


def _compare(season: Season | None, only: Collection[int] | None) -> tuple[dict[str, set[int]], dict[int, int], int]:
    """``({board: ids that differ}, {id: largest gap}, entries compared)``, for every member or
    ``only`` these."""
    found: dict[str, set[int]] = {}
    gaps: dict[int, int] = {}
    users = User.objects.order_by()
    entries = SeasonEntry.objects.filter(season=season).order_by() if season is not None else SeasonEntry.objects.none()
    if only is not None:
        users, entries = users.filter(pk__in=list(only)), entries.filter(member_id__in=list(only))
    # The database's own derived rows: this week's points.
    off = entries.filter(member__score__isnull=False).exclude(points=F("member__score") - F("start_score"))
    found["weekly_entries"] = set()
    for member_id, points, score, start in off.values_list("member_id", "points", "member__score", "start_score"):
        found["weekly_entries"].add(member_id)
        gaps[member_id] = max(gaps.get(member_id, 0), abs((score or 0) - start - points))
    compared = 0
    if index.enabled():
        k = index.keys()
        boards: dict[str, tuple[str, Any]] = {
            "all": (k.all, users.filter(selectors.listed_q()).values_list("pk", "score", "score_reached_at")),
            "global": (k.global_, users.filter(selectors.global_q()).values_list("pk", "score", "score_reached_at")),
        }
        if season is not None:
            boards["weekly"] = (k.weekly(season.pk), entries.filter(selectors.global_q("member__"))
                                .values_list("member_id", "points", "reached_at"))
        for name, (key, rows) in boards.items():
            expected = {member_id: encode(value, reached_us(reached))
                        for member_id, value, reached in rows.iterator(chunk_size=CHUNK)}
            actual = _board(key, only)
            compared += len(expected)
            found[name] = set()
            for member_id in expected.keys() | actual.keys():
                want, have = expected.get(member_id), actual.get(member_id)
                if want is None or have is None or int(have) != want:
                    found[name].add(member_id)
                    if want is not None and have is not None:
                        gaps[member_id] = max(gaps.get(member_id, 0), abs(decode(want)[0] - decode(have)[0]))
        cards = {pk: index.card(score, reached_us(reached), band, username) for pk, score, reached, band, username
                 in users.values_list("pk", "score", "score_reached_at", "score_band", "username")
                 .iterator(chunk_size=CHUNK)}
        actual_cards = _cards(only)
        compared += len(cards)
        # No card and an empty card both say "no score yet" (a member who never had one has none).
        found["cards"] = {pk for pk in cards.keys() | actual_cards.keys()
                          if (cards.get(pk) or "") != (actual_cards.get(pk) or "")}
    return found, gaps, compared


def _board(key: str, only: Collection[int] | None) -> dict[int, float]:
    r = index.client()
    if only is None:
        return {int(name): score for name, score in r.zscan_iter(key, count=CHUNK)}
    ids = sorted(only)
    scores = r.zmscore(key, [member_key(m) for m in ids]) if ids else []
    return {m: score for m, score in zip(ids, scores, strict=True) if score is not None}


def _cards(only: Collection[int] | None) -> dict[int, str]:
    r = index.client()
    if only is None:
        return {int(name): _text(value) for name, value in r.hscan_iter(index.keys().cards, count=CHUNK)}
    ids = sorted(only)
    values: list[Any] = r.hmget(index.keys().cards, [member_key(m) for m in ids]) if ids else []
    return {m: _text(value) for m, value in zip(ids, values, strict=True) if value is not None}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
