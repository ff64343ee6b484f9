"""Reads of the leaderboards app: who may be listed where, seasons and baselines.

Who is listed is decided here and nowhere else (DESIGN.md §2.5, §4, §10):

* every board: an active member with a score, not in private mode, not frozen by a moderator
  (DESIGN §10: ``User.is_frozen``; scoring.moderation sends ``profile_changed`` with it).
* global and weekly: also ``on_global_board`` (opt-in).
* friends: the viewer always sees themself; friends in private mode are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db.models import OuterRef, Q, QuerySet, Subquery

from accounts.models import User
from leaderboards.models import Season, SeasonEntry

SEASON_LENGTH = timedelta(days=7)


def listed_q(prefix: str = "") -> Q:
    """Members who may appear on any board (``prefix``: e.g. ``"member__"`` from an entry)."""
    return Q(**{f"{prefix}is_active": True, f"{prefix}private_mode": False, f"{prefix}score__isnull": False,
                f"{prefix}is_frozen": False})


def global_q(prefix: str = "") -> Q:
    return listed_q(prefix) & Q(**{f"{prefix}on_global_board": True})


def is_listed(*, is_active: bool, private_mode: bool, score: int | None, is_frozen: bool = False) -> bool:
    return is_active and not private_mode and score is not None and not is_frozen


def is_on_global(*, is_active: bool, private_mode: bool, score: int | None, on_global_board: bool,
                 is_frozen: bool = False) -> bool:
    return on_global_board and is_listed(is_active=is_active, private_mode=private_mode, score=score,
                                         is_frozen=is_frozen)


def member_state_fields() -> tuple[str, ...]:
    return ("pk", "username", "score", "score_band", "score_reached_at", "is_active", "private_mode",
            "on_global_board", "is_frozen")


def members_by_id(*, member_ids: list[int]) -> QuerySet[User]:
    return User.objects.filter(pk__in=member_ids)


# --- seasons -------------------------------------------------------------------------------------


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week holding ``moment``."""
    utc = moment.astimezone(UTC)
    monday = utc - timedelta(days=utc.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def season_at(*, moment: datetime) -> Season | None:
    return Season.objects.filter(starts_at=week_start(moment)).first()


def season_baselines(*, member_ids: Iterable[int], season: Season) -> dict[int, int]:
    """Each member's score when ``season`` opened, or their first score in it; members who had
    no score by now are left out. Read from the score ledger (the truth), so it does not depend
    on the order in which score signals arrive. One query, whatever the number of members."""
    from scoring.models import ScoreChange

    ledger = ScoreChange.objects.filter(member_id=OuterRef("pk"))
    before = (ledger.filter(created_at__lt=season.starts_at).order_by("-created_at", "-id")
              .values("new_score")[:1])
    first = ledger.filter(created_at__gte=season.starts_at).order_by("created_at", "id").values("new_score")[:1]
    rows = (User.objects.filter(pk__in=list(member_ids))
            .annotate(before=Subquery(before), first=Subquery(first)).values_list("pk", "before", "first"))
    return {pk: b if b is not None else f for pk, b, f in rows if b is not None or f is not None}


def season_entries(*, season: Season) -> QuerySet[SeasonEntry]:
    return SeasonEntry.objects.filter(season=season)


def seasons_past(*, limit: int = 12) -> QuerySet[Season]:
    return Season.objects.filter(closed=True).order_by("-starts_at")[:limit]
