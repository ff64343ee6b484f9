"""Writes of the leaderboards app: seasons, keeping the index in step, rebuilding it.

The scoring pipeline announces every score change after commit (``scoring.signals
.score_changed``); ``member_score_changed`` then updates the member's weekly entry (database),
their places in the Redis index (one pipeline), publishes ONE message for them and tells the
friends a rising score passed on the friends board (``_friends_passed_tell``).
Everything it writes is read back from the database first, so late or reordered signals
converge on the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notifications import Kind, notify
from leaderboards import boards, broadcast, index, selectors
from leaderboards.models import Season, SeasonEntry
from leaderboards.ranking import rank_all, reached_us
from social.models import Friendship

logger = logging.getLogger(__name__)


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
    rows = boards.DatabaseSource(boards.weekly_rows(season))._values(boards.weekly_rows(season))
    ranks = {e.member_id: e.rank for e in rank_all(rows)}
    entries = list(SeasonEntry.objects.filter(season=season))
    for entry in entries:
        entry.final_rank = ranks.get(entry.member_id)
    SeasonEntry.objects.bulk_update(entries, ["final_rank"], batch_size=1000)
    season.closed = True
    season.closed_at = timezone.now()
    season.save(update_fields=["closed", "closed_at"])
    _season_badges_soon(season.pk)
    if index.enabled():
        transaction.on_commit(lambda: _forget_season(season_id), robust=True)
    return 1


def _season_badges_soon(season_id: int) -> None:
    """Most improved of the week (leaderboards.badges), awarded by a task after commit."""
    from config.queue import enqueue_on_commit
    from leaderboards.tasks import award_season_badges

    enqueue_on_commit(award_season_badges, season_id)


def _forget_season(season_id: int) -> None:
    try:
        index.season_closed(season_id)
    except redis.RedisError:
        logger.exception("could not expire the index of season %s", season_id)


def season_entry_record(*, season: Season, member_id: int, score: int, reached_at: datetime | None,
                        old_score: int | None) -> SeasonEntry:
    """Bring the member's entry in ``season`` in step with their current ``score``.

    The baseline comes from the score ledger; ``old_score`` (from the signal) is the fallback
    for members without ledger rows.
    """
    reached_at = reached_at or timezone.now()
    entry = SeasonEntry.objects.filter(season=season, member_id=member_id).first()
    if entry is None:
        baseline = selectors.season_baseline(member_id=member_id, season=season)
        if baseline is None:
            baseline = old_score if old_score is not None else score
        entry, created = SeasonEntry.objects.get_or_create(
            season=season, member_id=member_id,
            defaults={"start_score": baseline, "points": score - baseline, "reached_at": reached_at})
        if created:
            return entry
    points = score - entry.start_score
    if points != entry.points:
        SeasonEntry.objects.filter(pk=entry.pk).update(points=points, reached_at=reached_at)
        entry.points, entry.reached_at = points, reached_at
    return entry


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


def _index_apply(states: Sequence[index.MemberState], season_id: int) -> None:
    if not index.enabled():
        boards.version_bump()
        return
    try:
        index.apply(states, season_id=season_id)
    except redis.RedisError:
        # The truth is safe in the database; the rebuild (manual, or automatic once Redis
        # comes back empty) restores the index.
        logger.exception("leaderboard index write failed for %d member(s)", len(states))


def member_score_changed(*, member_id: int, old_score: int | None, new_score: int | None, cause: str) -> None:
    """The scoring pipeline moved a member's displayed score (called after its commit)."""
    rows = _rows([member_id])
    if not rows:
        return
    row = rows[0]
    season = season_current()
    entry = None
    if row.score is not None:
        entry = season_entry_record(season=season, member_id=member_id, score=row.score,
                                    reached_at=row.reached_at, old_score=old_score)
    _index_apply([_state(row, entry)], season.pk)
    _publish(row, entry, old_score=old_score, cause=cause)
    _friends_passed_tell(row, old_score=old_score)


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

#: A member hears at most once per this many seconds that the same friend passed them: scores
#: that see-saw around a friend's (a refund, then the purchase again) would otherwise repeat it.
PASSED_NOTICE_EVERY_SECONDS = 3600


def _friends_passed_tell(row: _Row, *, old_score: int | None) -> None:
    """The member's score rose from ``old_score`` to ``row.score``: every listed friend whose
    score lies in ``[old_score, row.score)`` was at or above them and is now below, and is told.

    This runs for every score change (hot): it costs nothing unless the score rose and the
    member is on boards, then ONE query; a notification only for the friends actually passed.
    The throttle is a cache key per (passer, passed) pair (atomic ``add``): losing the cache
    costs at most one repeated notification, never a missed score.
    """
    if old_score is None or row.score is None or row.score <= old_score or not row.listed:
        return
    mine = Friendship.objects.active()
    passed = list(
        User.objects.filter(selectors.listed_q(), score__gte=old_score, score__lt=row.score)
        .filter(Q(pk__in=mine.filter(member_a_id=row.pk).values("member_b_id"))
                | Q(pk__in=mine.filter(member_b_id=row.pk).values("member_a_id")))
        .order_by("pk").values_list("pk", "score")
    )
    for friend_id, friend_score in passed:
        if not cache.add(f"lb:passed:{row.pk}:{friend_id}", 1, timeout=PASSED_NOTICE_EVERY_SECONDS):
            continue
        notify(member_id=friend_id, kind=Kind.PASSED,
               text=f"{row.username} passed you on your friends board ({row.score} vs your {friend_score})",
               link=f"{reverse('leaderboard')}?board=friends")


# --- rebuilding the index from the database ------------------------------------------------------


@dataclass(frozen=True)
class RebuildReport:
    members: int
    global_members: int
    weekly_members: int
    caught_up: int
    seconds: float


def index_rebuild(*, chunk: int = 10_000) -> RebuildReport:
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
    from config.queue import enqueue_on_commit
    from leaderboards.tasks import rebuild_index

    try:
        if not index.lock_rebuild():
            return False
    except redis.RedisError:
        return False
    logger.warning("leaderboard index is empty: rebuilding it from the database")
    enqueue_on_commit(rebuild_index)
    return True
