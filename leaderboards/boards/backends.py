"""Boards, the read side: one interface, two backends (DESIGN.md §4).

A ``Board``'s ``view(...)`` answers top N, a page after a cursor, or "around me", with the
viewer's standing. In services mode the global and weekly boards read Redis sorted sets
(``index.RedisSource``) and the friends board reads its members' cards in one round trip
(``index.friends_read``); in embedded mode (or while the index is being rebuilt) the same
queries run on the database (``DatabaseSource``). Both backends order, rank and page
identically (``ranking``).

Nothing here writes: ``services.board_for`` picks the backend, and does what a read may call
for (open this week's season, start a rebuild of a lost index). Every Redis page is checked
against the database in one query (``_verified``): a member who became inactive or private
without the index hearing of it is left out of the page and handed to the board's ``heal``
(``services`` re-indexes them there and then), so such members never appear where they should
not.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.members.models import User
from leaderboards.boards import index, selectors
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.boards.ranking import EPOCH, Cursor, Entry, Item, Standing, from_us, ranked, reached_us
from leaderboards.live import protocol
from social.graph.selectors import friend_ids

logger = logging.getLogger(__name__)

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
#: The friends board is computed whole on read; more friends than this are not shown.
FRIENDS_MAX = 5_000
#: Embedded mode's board version (the REST ``seq``) in the cache; services mode keeps it in Redis.
VERSION_KEY = "leaderboards:version"
#: Re-indexes members a Redis page listed but the database does not (``services`` gives it).
Heal = Callable[[set[int]], None]


@dataclass(frozen=True)
class BoardView:
    board: str
    entries: list[Entry]
    next: Cursor | None
    total: int
    me: Standing | None
    seq: int
    season: Season | None = None

    def as_dict(self, *, viewer_id: int | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "board": self.board,
            "seq": self.seq,
            "entries": [e.as_dict(viewer_id) for e in self.entries],
            "next": self.next.encode() if self.next else None,
            "total": self.total,
            "my_rank": self.me.rank if self.me else None,
            "my_score": self.me.value if self.me else None,
            "percentile": self.me.percentile if self.me else None,
        }
        if self.season is not None:
            data["season"] = season_dict(self.season)
        return data


def season_dict(season: Season) -> dict[str, Any]:
    left = max(0, int((season.ends_at - timezone.now()).total_seconds())) if not season.closed else 0
    return {"id": season.pk, "starts_at": season.starts_at.isoformat(), "ends_at": season.ends_at.isoformat(),
            "closed": season.closed, "time_left": left}


class Board(Protocol):
    name: str

    def view(self, *, viewer_id: int, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None,
             around_me: bool = False) -> BoardView: ...


# --- versions (the REST ``seq``) ----------------------------------------------------------------


def version() -> int:
    if index.enabled():
        return index.version()
    return int(cache.get(VERSION_KEY) or 0)


# --- sources: where a ranked board's items come from --------------------------------------------


WindowAndMe = tuple[index.Window, index.Located | None]


class Source(Protocol):
    def locate(self, member_id: int | None) -> index.Located: ...
    def window(self, offset: int, limit: int, *, locate: int | None = None) -> WindowAndMe: ...
    def after(self, cursor: Cursor, limit: int) -> index.Window: ...


class DatabaseSource:
    """A board as an ordered queryset annotated with ``mid``, ``value``, ``reached``,
    ``username``, ``band`` (see ``global_rows`` / ``weekly_rows``)."""

    def __init__(self, rows: QuerySet[Any]) -> None:
        self.rows = rows.order_by("-value", "reached", "-mid")

    @staticmethod
    def _item(row: dict[str, Any]) -> Item:
        return Item(row["mid"], row["value"], reached_us(row["reached"]), row["username"], row["band"] or "")

    def _values(self, qs: QuerySet[Any]) -> list[Item]:
        return [self._item(r) for r in qs.values("mid", "value", "reached", "username", "band")]

    def items(self) -> list[Item]:
        """The whole board, in board order (closing a season ranks all of it)."""
        return self._values(self.rows)

    @staticmethod
    def _before(item: Item | Cursor) -> Q:
        moment = from_us(item.reached)
        return (Q(value__gt=item.value) | Q(value=item.value, reached__lt=moment)
                | Q(value=item.value, reached=moment, mid__gt=item.member_id))

    @staticmethod
    def _after(item: Item | Cursor) -> Q:
        moment = from_us(item.reached)
        return (Q(value__lt=item.value) | Q(value=item.value, reached__gt=moment)
                | Q(value=item.value, reached=moment, mid__lt=item.member_id))

    def locate(self, member_id: int | None) -> index.Located:
        mine = self._values(self.rows.filter(mid=member_id)) if member_id is not None else []
        if not mine:
            return index.Located(None, 0, 0, self.rows.count(), 0, 0)
        me = mine[0]
        counts = self.rows.aggregate(
            total=Count("mid"), before=Count("mid", filter=self._before(me)),
            greater=Count("mid", filter=Q(value__gt=me.value)), less=Count("mid", filter=Q(value__lt=me.value)),
        )
        return index.Located(counts["before"], me.value, me.reached, counts["total"], counts["greater"],
                             counts["less"])

    def window(self, offset: int, limit: int, *, locate: int | None = None) -> WindowAndMe:
        items = self._values(self.rows[offset:offset + limit])
        greater = self.rows.filter(value__gt=items[0].value).count() if items and offset else 0
        located = self.locate(locate) if locate is not None else None
        return index.Window(items, greater, offset), located

    def after(self, cursor: Cursor, limit: int) -> index.Window:
        items = self._values(self.rows.filter(self._after(cursor))[:limit])
        if not items:
            return index.Window([], 0, 0)
        counts = self.rows.aggregate(before=Count("mid", filter=self._before(items[0])),
                                     greater=Count("mid", filter=Q(value__gt=items[0].value)))
        return index.Window(items, counts["greater"], counts["before"])


def global_rows() -> QuerySet[Any]:
    return User.objects.filter(selectors.global_q()).annotate(
        mid=F("pk"), value=F("score"), reached=Coalesce("score_reached_at", Value(EPOCH)),
        band=F("score_band"),
    )


def weekly_rows(season: Season, *, final: bool = False) -> QuerySet[Any]:
    rows = SeasonEntry.objects.filter(selectors.global_q("member__"), season=season)
    if final:
        rows = rows.filter(final_rank__isnull=False)
    return rows.annotate(mid=F("member_id"), value=F("points"), reached=F("reached_at"),
                         username=F("member__username"), band=F("member__score_band"))


# --- ranked boards (global, weekly) ---------------------------------------------------------------


class RankedBoard:
    """A board too big to hold in memory: read through a ``Source``, a window at a time.

    With ``heal`` (a Redis source), each page is checked against the database, which also
    gives the rows their usernames and bands; members the index lists wrongly are handed to
    ``heal`` and the page is read once more."""

    def __init__(self, name: str, source: Source, *, season: Season | None = None,
                 heal: Heal | None = None) -> None:
        self.name = name
        self.source = source
        self.season = season
        self.heal = heal

    def view(self, *, viewer_id: int, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None,
             around_me: bool = False, _retry: bool = True) -> BoardView:
        me: index.Located | None
        if cursor is not None:
            window = self.source.after(cursor, limit)
            me = self.source.locate(viewer_id)
        elif around_me:
            me = self.source.locate(viewer_id)
            offset = 0 if me.position is None else max(0, me.position - (limit - 1) // 2)
            window, _ = self.source.window(offset, limit)
        else:
            window, me = self.source.window(0, limit, locate=viewer_id)
        assert me is not None
        items = window.items
        if self.heal is not None:
            check = [i.member_id for i in items] + ([viewer_id] if me.position is not None else [])
            labels, stale = _verified(check, global_board=True)
            if stale:
                self.heal(stale)
                if _retry:
                    return self.view(viewer_id=viewer_id, limit=limit, cursor=cursor, around_me=around_me,
                                     _retry=False)
            items = [replace(i, username=labels[i.member_id][0], band=labels[i.member_id][1])
                     for i in items if i.member_id in labels]
        entries = ranked(items, first_rank=window.greater_than_first + 1, first_position=window.first_position)
        more = bool(items) and window.first_position + len(items) < me.total
        standing = Standing(me.greater + 1, me.value, me.total, me.less) if me.position is not None else None
        return BoardView(self.name, entries, Cursor.after(items[-1]) if more else None, me.total, standing,
                         version(), self.season)


def _verified(member_ids: Sequence[int], *, global_board: bool) -> tuple[dict[int, tuple[str, str]], set[int]]:
    """``({id: (username, band)} of those still eligible, {ids that are not})``: one query."""
    if not member_ids:
        return {}, set()
    rows = User.objects.filter(pk__in=set(member_ids)).values_list(
        "pk", "username", "score_band", "is_active", "private_mode", "on_global_board", "score", "is_frozen")
    labels: dict[int, tuple[str, str]] = {}
    for pk, username, band, active, private, opted, score, frozen in rows:
        ok = (selectors.is_on_global(is_active=active, private_mode=private, score=score, on_global_board=opted,
                                     is_frozen=frozen)
              if global_board else selectors.is_listed(is_active=active, private_mode=private, score=score,
                                                       is_frozen=frozen))
        if ok:
            labels[pk] = (username, band)
    return labels, set(member_ids) - set(labels)


# --- the friends board: computed whole on read (DESIGN.md §11) -----------------------------------


#: A friends-board row, sortable in board order: ``(-value, reached µs, -member_id, username, band)``.
Row = tuple[int, int, int, str, str]


class FriendsBoard:
    """Me (if I have a score) and my friends who may be listed.

    Services mode: one Redis round trip (Lua: the cached friend list, who of them is on ``all``,
    their cards, the version) and no query; a cold friend-list cache costs one query and a
    second round trip. Embedded mode (or an index being rebuilt): two queries. Rows stay plain
    tuples until the page is cut: 5,000 dataclasses per read would cost more than Redis.
    """

    name = protocol.FRIENDS

    def __init__(self, viewer: User) -> None:
        self.viewer = viewer
        self.seq: int | None = None  # the index version read with the rows (services mode)

    def _friend_ids(self) -> list[int]:
        return sorted(friend_ids(member_id=self.viewer.pk))[:FRIENDS_MAX]

    def rows(self) -> list[Row]:
        """The board's rows, in no particular order."""
        if index.enabled():
            try:
                return self._indexed()
            except index.NotReady:
                pass
            except index.redis.RedisError:
                logger.exception("leaderboard index unreachable: friends board from the database")
        return self._from_database(self._friend_ids())

    def items(self) -> list[Item]:
        return [Item(-r[2], -r[0], r[1], r[3], r[4]) for r in self.rows()]

    def _indexed(self) -> list[Row]:
        me = self.viewer.pk
        read = index.friends_read(me, self._friend_ids)
        self.seq = read.version
        out: list[Row] = []
        unknown: list[int] = []
        for member_id, text in read.rows:
            if text is None:
                unknown.append(member_id)
            elif text:  # "" is a member without a score (only ever me: others are not on ``all``)
                value, reached, band, username = text.split(":", 3)
                out.append((-int(value), int(reached), -member_id, username, band))
        if unknown:
            logger.warning("friends board: %d member(s) without a card; reading them from the database",
                           len(unknown))
            out.extend(self._from_database(sorted(set(unknown) - {me}), include_me=me in unknown))
        return out

    def _from_database(self, ids: list[int], *, include_me: bool = True) -> list[Row]:
        cond = Q(pk__in=ids) & selectors.listed_q()
        if include_me:
            cond |= Q(pk=self.viewer.pk, score__isnull=False)
        rows = User.objects.filter(cond).values_list("pk", "username", "score_band", "score", "score_reached_at")
        return [(-(score or 0), reached_us(reached), -pk, username, band or "")
                for pk, username, band, score, reached in rows]

    def view(self, *, viewer_id: int, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None,
             around_me: bool = False) -> BoardView:
        rows = self.rows()
        rows.sort()
        return page_rows(self.name, rows, viewer_id=viewer_id, limit=limit, cursor=cursor, around_me=around_me,
                         seq=self.seq)


def page_rows(name: str, rows: list[Row], *, viewer_id: int, limit: int, cursor: Cursor | None,
              around_me: bool, seq: int | None = None) -> BoardView:
    """One page of a board held whole in memory, ``rows`` already sorted in board order: ranks
    by bisection, entries built for the page only, the same cursor semantics as the others."""
    total = len(rows)
    mine = next((i for i, r in enumerate(rows) if r[2] == -viewer_id), None)
    start = 0
    if cursor is not None:
        # The first row strictly after the cursor in board order (it may have moved or left).
        start = bisect_right(rows, cursor.order, key=lambda r: r[:3])
    elif around_me and mine is not None:
        start = max(0, mine - (limit - 1) // 2)
    chunk = rows[start:start + limit]

    def rank_at(position: int) -> int:  # competition ranking: 1 + how many have a higher value
        return bisect_left(rows, rows[position][0], key=lambda r: r[0]) + 1

    entries: list[Entry] = []
    for offset, row in enumerate(chunk):
        rank = rank_at(start) if offset == 0 else (
            entries[-1].rank if row[0] == chunk[offset - 1][0] else start + offset + 1)
        entries.append(Entry(rank, -row[2], row[3], -row[0], row[4]))
    standing = None
    if mine is not None:
        below = total - bisect_right(rows, rows[mine][0], key=lambda r: r[0])
        standing = Standing(rank_at(mine), -rows[mine][0], total, below)
    nxt = None
    if chunk and start + len(chunk) < total:
        last = chunk[-1]
        nxt = Cursor(-last[0], last[1], -last[2])
    return BoardView(name, entries, nxt, total, standing, version() if seq is None else seq)
