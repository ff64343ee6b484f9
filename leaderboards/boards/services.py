"""Writes of the boards: seasons, keeping the index in step, rebuilding it, and the reads that
may call for a write (``board_for``).

The scoring pipeline announces score changes after commit (``scoring.ledger.signals``:
``scores_changed`` for a batch, ``score_changed`` for one member, handed over as a batch of one);
``members_scores_changed`` then brings the members' weekly entries in step (database, set-based),
writes their places in the Redis index (one pipeline), publishes ONE message per member and tells
the friends a rising score passed on the friends board (``_friends_passed_tell``). Its queries
do not grow with the batch (only the notifications of friends actually passed do).
Everything it writes is read back from the database first, so late or reordered signals
converge on the truth.

A season that closes freezes its final ranks and sends ``signals.season_ended`` after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications.feed import Kind, notify_many
from config.kernel import metrics
from config.kernel.after_commit import call_on_commit, enqueue_on_commit, send_on_commit
from config.kernel.bulk_sql import rows_update
from config.kernel.chunks import chunks
from leaderboards.boards import backends, index, selectors, signals
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.boards.ranking import rank_all, reached_us
from leaderboards.live import broadcast, protocol
from scoring.ledger.models import ScoreChange

logger = logging.getLogger(__name__)

#: Final ranks written per UPDATE statement when a season closes.
FINAL_RANKS_PER_UPDATE = 1_000
#: A member hears at most once per this many seconds that the same friend passed them: scores
#: that see-saw around a friend's (a refund, then the purchase again) would otherwise repeat it.
PASSED_NOTICE_EVERY_SECONDS = 3600
#: Members per query when this week's entries are rebuilt from the ledger.
SEASON_MEMBERS_PER_QUERY = 500


# --- reading a board ----------------------------------------------------------------------------


def board_for(name: str, *, viewer: User, season: Season | None = None) -> backends.Board:
    """The board ``name`` (``protocol.BOARDS``) as ``viewer`` reads it; ``season``: a weekly
    board's season (this week's by default). The read itself is ``backends``'; what it may call
    for is written here: this week's season opens on first use, an index Redis lost starts a
    rebuild (``index_usable``), and members a Redis page lists wrongly are re-indexed (``_heal``)."""
    if name == protocol.FRIENDS:
        return backends.FriendsBoard(viewer)
    fast = index_usable()
    if name == protocol.GLOBAL:
        if fast:
            return backends.RankedBoard(name, index.RedisSource(index.keys().global_), heal=_heal)
        return backends.RankedBoard(name, backends.DatabaseSource(backends.global_rows()))
    if name == protocol.WEEKLY:
        season = season or season_current()
        if season.closed:
            return backends.RankedBoard(name, backends.DatabaseSource(backends.weekly_rows(season, final=True)),
                                        season=season)
        if fast:
            return backends.RankedBoard(name, index.RedisSource(index.keys().weekly(season.pk)), season=season,
                                        heal=_heal)
        return backends.RankedBoard(name, backends.DatabaseSource(backends.weekly_rows(season)), season=season)
    raise ValueError(f"unknown board {name!r}")


def index_usable() -> bool:
    """Redis is configured and holds a complete index; if it lost it, start a rebuild."""
    if not index.enabled():
        return False
    try:
        if index.is_ready():
            return True
    except redis.RedisError:
        logger.exception("leaderboard index unreachable: serving boards from the database")
        return False
    index_rebuild_soon()
    return False


def _heal(member_ids: set[int]) -> None:
    logger.warning("index listed %d member(s) the database does not: re-indexing them", len(member_ids))
    members_reindex(member_ids=sorted(member_ids))


# --- seasons -------------------------------------------------------------------------------------


def season_current(*, now: datetime | None = None) -> Season:
    """The season holding ``now`` (created on first use); opening one closes those that ended."""
    now = now or timezone.now()
    start = selectors.week_start(now)
    season = Season.objects.filter(starts_at=start).first()
    if season is None:
        season, created = Season.objects.get_or_create(
            starts_at=start, defaults={"ends_at": start + selectors.SEASON_LENGTH})
        if created:
            seasons_close_ended(now=now)
    return season


def seasons_close_ended(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    closed = 0
    for season in Season.objects.filter(closed=False, ends_at__lte=now).order_by("starts_at"):
        closed += season_close(season_id=season.pk)
    return closed


@transaction.atomic
def season_close(*, season_id: int) -> int:
    """Freeze a season's final standings (read-only from now on). Returns 1 if it closed it."""
    season = Season.objects.select_for_update().get(pk=season_id)
    if season.closed:
        return 0
    ranks = {e.member_id: e.rank for e in rank_all(backends.DatabaseSource(backends.weekly_rows(season)).items())}
    entries = list(SeasonEntry.objects.filter(season=season))
    for entry in entries:
        entry.final_rank = ranks.get(entry.member_id)
    SeasonEntry.objects.bulk_update(entries, ["final_rank"], batch_size=FINAL_RANKS_PER_UPDATE)
    season.closed = True
    season.closed_at = timezone.now()
    season.save(update_fields=["closed", "closed_at"])
    send_on_commit(signals.season_ended, sender=Season, season_id=season.pk)
    if index.enabled():
        call_on_commit(_forget_season, season_id)
    return 1


def _forget_season(season_id: int) -> None:
    try:
        index.season_closed(season_id)
    except redis.RedisError:
        logger.exception("could not expire the index of season %s", season_id)


def season_entries_record(*, season: Season, rows: Sequence[_Row],
                          old_scores: Mapping[int, int | None]) -> dict[int, SeasonEntry]:
    """Bring these members' entries in ``season`` in step with their current scores (members
    without a score are skipped); returns the entries by member id.

    A new entry's baseline comes from the score ledger; ``old_scores`` (from the signal) is the
    fallback for members without ledger rows. Set-based: at most five statements for any number
    of members. A concurrent creator of the same entry wins (``season_entry_once``); its
    points are then brought in step like any existing entry's.
    """
    now = timezone.now()
    scored = {row.pk: row for row in rows if row.score is not None}
    entries = {e.member_id: e for e in SeasonEntry.objects.filter(season=season, member_id__in=list(scored))}
    missing = [pk for pk in scored if pk not in entries]
    if missing:
        baselines = selectors.season_baselines(member_ids=missing, season=season)
        new: list[SeasonEntry] = []
        for pk in missing:
            row = scored[pk]
            assert row.score is not None
            old = old_scores.get(pk)
            baseline = baselines.get(pk, old if old is not None else row.score)
            new.append(SeasonEntry(season=season, member_id=pk, start_score=baseline, points=row.score - baseline,
                                   reached_at=row.reached_at or now))
        SeasonEntry.objects.bulk_create(new, ignore_conflicts=True)
        entries.update((e.member_id, e) for e in SeasonEntry.objects.filter(season=season, member_id__in=missing))
    moved: list[tuple[int, datetime, int]] = []
    for pk, entry in entries.items():
        points = cast(int, scored[pk].score) - entry.start_score
        if points != entry.points:
            entry.points, entry.reached_at = points, scored[pk].reached_at or now
            moved.append((entry.points, entry.reached_at, entry.pk))
    # One parametrised UPDATE for every moved entry (``bulk_update`` would build a CASE WHEN per
    # entry and field: ≈ 1 ms of CPU an entry here, on every scoring batch).
    rows_update(SeasonEntry, key="id", fields=("points", "reached_at"), rows=moved)
    return entries


# --- keeping the index in step -------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    pk: int
    username: str
    score: int | None
    band: str
    reached_at: datetime | None
    is_active: bool
    private_mode: bool
    on_global_board: bool
    is_frozen: bool = False

    @property
    def listed(self) -> bool:
        return selectors.is_listed(is_active=self.is_active, private_mode=self.private_mode, score=self.score,
                                   is_frozen=self.is_frozen)

    @property
    def on_global(self) -> bool:
        return selectors.is_on_global(is_active=self.is_active, private_mode=self.private_mode, score=self.score,
                                      on_global_board=self.on_global_board, is_frozen=self.is_frozen)


def _rows(member_ids: Iterable[int]) -> list[_Row]:
    return [_Row(*values) for values in User.objects.filter(pk__in=list(member_ids)).values_list(
        *selectors.member_state_fields())]


def _state(row: _Row, entry: SeasonEntry | None) -> index.MemberState:
    weekly = (entry.season_id, entry.points, reached_us(entry.reached_at)) if entry is not None else None
    return index.MemberState(row.pk, row.score, reached_us(row.reached_at), row.listed, row.on_global, weekly,
                             username=row.username, band=row.band or "")


def version_bump() -> int:
    """Embedded mode's counterpart of the index version (services mode bumps it in Redis)."""
    try:
        return int(cache.incr(backends.VERSION_KEY))
    except ValueError:
        cache.add(backends.VERSION_KEY, 0, timeout=None)
        return int(cache.incr(backends.VERSION_KEY))


def _index_apply(states: Sequence[index.MemberState], season_id: int, *, strict: bool = False) -> None:
    """Write these members' places. ``strict`` (a score change's follow-up): an index that lost
    its data starts a rebuild, and a write that fails raises, so the change stays in the ledger's
    outbox and the sweeper writes it again once Redis answers. Otherwise a failure is logged: the
    truth is safe in the database, and the rebuild restores the index."""
    if not index.enabled():
        version_bump()
        return
    if strict:
        index_usable()  # Redis came back empty: one rebuild; meanwhile boards are read from the database
    try:
        index.apply(states, season_id=season_id)
    except redis.RedisError:
        logger.exception("leaderboard index write failed for %d member(s)", len(states))
        if strict:
            raise


def members_scores_changed(*, changes: Sequence[Mapping[str, Any]]) -> None:
    """The scoring pipeline moved these members' displayed scores (``scoring.ledger.signals.ScoreMove``
    dicts, called after its commit, or again by the ledger's sweeper): weekly entries, one index
    pipeline, ONE publish per change, then the friends passed on the friends board. Queries: a
    constant handful per batch. Raises when the index cannot be written (the ledger keeps the
    change marked and announces it again)."""
    if not changes:
        return
    old_scores: dict[int, int | None] = {}
    for change in changes:
        old_scores.setdefault(change["member_id"], change["old_score"])  # a member twice: the earliest
    rows = {row.pk: row for row in _rows(sorted(old_scores))}
    if not rows:
        return
    season = season_current()
    entries = season_entries_record(season=season, rows=list(rows.values()), old_scores=old_scores)
    _index_apply([_state(row, entries.get(pk)) for pk, row in sorted(rows.items())], season.pk, strict=True)
    moved: list[tuple[_Row, int | None]] = []
    for change in changes:
        row = rows.get(change["member_id"])
        if row is not None:
            _publish(row, entries.get(row.pk), old_score=change["old_score"], cause=change.get("cause", ""))
            moved.append((row, change["old_score"]))
    _friends_passed_tell(moved)


def member_listing_changed(*, member_id: int, cause: str = "privacy") -> None:
    """Opt-in, private mode or activity changed: re-index the member and tell who shows them."""
    members_reindex(member_ids=[member_id], publish=True, cause=cause)


def members_reindex(*, member_ids: Sequence[int], publish: bool = False, cause: str = "reindex") -> None:
    """Write these members' index places from the database (self-healing after a stale read)."""
    season = season_current()
    rows = _rows(member_ids)
    entries = {e.member_id: e for e in SeasonEntry.objects.filter(season=season, member_id__in=member_ids)}
    _index_apply([_state(r, entries.get(r.pk)) for r in rows], season.pk)
    if publish:
        for row in rows:
            _publish(row, entries.get(row.pk), old_score=row.score, cause=cause)


def _publish(row: _Row, entry: SeasonEntry | None, *, old_score: int | None, cause: str) -> None:
    broadcast.member_changed(
        member_id=row.pk, username=row.username, old_score=old_score, new_score=row.score, band=row.band,
        reached=reached_us(row.reached_at), listed=row.listed, on_global=row.on_global,
        weekly_points=entry.points if entry is not None else None, cause=cause,
    )


# --- "bob passed you on your friends board" ------------------------------------------------------

def _friends_passed_tell(moved: Sequence[tuple[_Row, int | None]]) -> None:
    """Each member rose from ``old_score`` to ``row.score``: every listed friend whose score
    lies in ``[old_score, row.score)`` was at or above them and is now below, and is told.

    This runs for every batch of score changes (hot): it costs nothing unless a listed member's
    score rose, then one query for the whole batch that returns only the pairs passed
    (``selectors.friends_passed``) and one INSERT for their notifications. The throttle is a
    cache key per (passer, passed) pair (atomic ``add``): losing the cache costs at most one
    repeated notification, never a missed score.
    """
    risers: dict[int, tuple[_Row, int]] = {}
    for row, old in moved:
        if old is not None and row.score is not None and row.score > old and row.listed:
            earlier = risers.get(row.pk)  # twice in one batch: from its lowest score
            risers[row.pk] = (row, min(old, earlier[1]) if earlier else old)
    if not risers:
        return
    rises = [(pk, old, cast(int, row.score)) for pk, (row, old) in sorted(risers.items())]
    told: list[tuple[int, str]] = []
    for riser_id, friend_id, friend_score in selectors.friends_passed(rises):
        row = risers[riser_id][0]
        if cache.add(f"lb:passed:{riser_id}:{friend_id}", 1, timeout=PASSED_NOTICE_EVERY_SECONDS):
            told.append((friend_id, f"{row.username} passed you on your friends board"
                                    f" ({row.score} vs your {friend_score})"))
    notify_many(kind=Kind.PASSED, items=told, link=f"{reverse('leaderboard')}?board=friends")


# --- rebuilding the index from the database ------------------------------------------------------


@dataclass(frozen=True)
class RebuildReport:
    members: int
    global_members: int
    weekly_members: int
    caught_up: int
    seconds: float


def index_rebuild(*, chunk: int = index.REBUILD_CHUNK) -> RebuildReport:
    """Replace the whole index with the database's truth (``manage.py leaderboards_rebuild``).

    Boards are swapped atomically; members whose score moved while the rebuild read the
    database are written again afterwards, so nothing that changed meanwhile is lost.
    """
    if not index.enabled():
        raise RuntimeError("no leaderboard index in embedded mode (REDIS_URL is not set)")
    started = timezone.now()
    season = season_current(now=started)
    k = index.keys()
    counts = {"all": 0, "global": 0, "weekly": 0}

    def rows(kind: str, qs) -> Iterable[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
        for member_id, value, reached in qs.iterator(chunk_size=chunk):
            counts[kind] += 1
            yield member_id, value, reached_us(reached)

    listed = User.objects.filter(selectors.listed_q()).order_by()
    on_global = User.objects.filter(selectors.global_q()).order_by()
    weekly = SeasonEntry.objects.filter(selectors.global_q("member__"), season=season).order_by()
    cards = ((pk, index.card(score, reached_us(reached), band, username)) for pk, score, reached, band, username
             in User.objects.order_by().values_list("pk", "score", "score_reached_at", "score_band", "username")
             .iterator(chunk_size=chunk))
    index.replace(boards={
        k.all: rows("all", listed.values_list("pk", "score", "score_reached_at")),
        k.global_: rows("global", on_global.values_list("pk", "score", "score_reached_at")),
        k.weekly(season.pk): rows("weekly", weekly.values_list("member_id", "points", "reached_at")),
    }, chunk=chunk, cards=cards)
    # Friend lists are a cache of the database: a rebuild starts them afresh too.
    index.friends_forget_all()
    moved = set(User.objects.filter(score_reached_at__gte=started).values_list("pk", flat=True))
    moved |= set(SeasonEntry.objects.filter(season=season, reached_at__gte=started).values_list("member_id", flat=True))
    if moved:
        members_reindex(member_ids=sorted(moved))
    seconds = (timezone.now() - started).total_seconds()
    metrics.BOARD_INDEX_REBUILDS.inc()
    logger.info("leaderboard index rebuilt: %s members, %.2f s", counts, seconds)
    return RebuildReport(counts["all"], counts["global"], counts["weekly"], len(moved), seconds)


def friends_changed(*, member_ids: Sequence[int]) -> None:
    """A friendship between these members started or ended (after commit): drop their cached
    friend lists (before their sockets reload the friends board), then tell their sockets."""
    if index.enabled():
        try:
            index.friends_forget(member_ids)
        except redis.RedisError:
            # The cached lists expire (index.FRIENDS_TTL_SECONDS); a rebuild drops them all.
            logger.exception("could not drop the cached friend lists of %s", list(member_ids))
    broadcast.friends_changed(member_ids=list(member_ids))


def index_rebuild_soon() -> bool:
    """The index is missing (Redis restarted or was flushed): start one rebuild, if none runs."""
    try:
        if not index.lock_rebuild():
            return False
    except redis.RedisError:
        return False
    logger.warning("leaderboard index is empty: rebuilding it from the database")
    enqueue_on_commit("leaderboards.boards.tasks.rebuild_index")
    return True


# --- a history loaded at once (the demo world) ------------------------------------------------------


def season_entries_rebuild(*, member_ids: Sequence[int], now: datetime | None = None) -> int:
    """This week's entries of these members, from the score ledger: an entry for each member
    whose ledger has a row in the current season, with the points gained since it opened.
    For histories loaded at once, whose score changes were never announced (``seed_demo``); the
    index is rebuilt from the database afterwards. Returns how many members have an entry."""
    season = season_current(now=now)
    moved: set[int] = set()
    for chunk in chunks(sorted(member_ids), SEASON_MEMBERS_PER_QUERY):
        moved.update(ScoreChange.objects.filter(member_id__in=chunk, created_at__gte=season.starts_at)
                     .values_list("member_id", flat=True).distinct())
    entries = 0
    for chunk in chunks(sorted(moved), SEASON_MEMBERS_PER_QUERY):
        entries += len(season_entries_record(season=season, rows=_rows(chunk), old_scores={}))
    return entries
