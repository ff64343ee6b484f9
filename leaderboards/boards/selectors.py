"""Reads of the boards: who may be listed where, the week a season covers, members' season
baselines, and the friends a rising score passed.

Who is listed is decided here and nowhere else (DESIGN.md §2.5, §4, §10):

* every board: an active member with a score, not in private mode, not frozen by a moderator
  (DESIGN §10: ``User.is_frozen``; scoring.moderation sends ``profile_changed`` with it).
* global and weekly: also ``on_global_board`` (opt-in).
* friends: the viewer always sees themself; friends in private mode are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from django.db import connection
from django.db.models import Model, OuterRef, Q, Subquery

from accounts.members.models import User
from config.kernel.chunks import chunks
from leaderboards.boards.models import Season
from scoring.ledger.models import ScoreChange
from social.graph.models import Friendship

SEASON_LENGTH = timedelta(days=7)
#: Rises per statement in ``friends_passed`` (three parameters each).
PASSED_CHUNK = 2_000


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


# --- seasons -------------------------------------------------------------------------------------


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week holding ``moment``."""
    utc = moment.astimezone(UTC)
    monday = utc - timedelta(days=utc.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def season_baselines(*, member_ids: Iterable[int], season: Season) -> dict[int, int]:
    """Each member's score when ``season`` opened, or their first score in it; members who had
    no score by now are left out. Read from the score ledger (the truth), so it does not depend
    on the order in which score signals arrive. One query, whatever the number of members."""
    ledger = ScoreChange.objects.filter(member_id=OuterRef("pk"))
    before = (ledger.filter(created_at__lt=season.starts_at).order_by("-created_at", "-id")
              .values("new_score")[:1])
    first = ledger.filter(created_at__gte=season.starts_at).order_by("created_at", "id").values("new_score")[:1]
    rows = (User.objects.filter(pk__in=list(member_ids))
            .annotate(before=Subquery(before), first=Subquery(first)).values_list("pk", "before", "first"))
    return {pk: b if b is not None else f for pk, b, f in rows if b is not None or f is not None}


def friends_passed(rises: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """``(riser, friend, friend's score)`` for every listed friend whose score lies in
    ``[old, new)`` of one of ``rises`` (``(member id, old score, new score)``): the friends the
    riser passed on the friends board. Sorted by riser, then friend.

    One statement per ``PASSED_CHUNK`` rises, returning only the passed pairs: the rises are a
    VALUES table joined to the active friendships (either side) and to the friends, who must be
    listed (``listed_q``, compiled by the ORM into the same statement).
    """
    listed_sql, listed_params = User.objects.filter(listed_q()).order_by().values("pk").query.sql_with_params()
    qn = connection.ops.quote_name

    def column(model: type[Model], field: str) -> str:
        return qn(cast(str, model._meta.get_field(field).column))  # type: ignore[union-attr]

    users, friendships = qn(User._meta.db_table), qn(Friendship._meta.db_table)
    user_id, score = column(User, "id"), column(User, "score")
    ended = column(Friendship, "ended_at")

    def side(me: str, friend: str) -> str:
        """The passed friends on one side of the friendship (each side has its own index)."""
        return (f"SELECT r.member_id, f.{friend}, u.{score} FROM rises r"  # noqa: S608 - names: models' metadata
                f" JOIN {friendships} f ON f.{me} = r.member_id AND f.{ended} IS NULL"
                f" JOIN {users} u ON u.{user_id} = f.{friend}"
                f" WHERE u.{score} >= r.old_score AND u.{score} < r.new_score AND u.{user_id} IN ({listed_sql})")

    a, b = column(Friendship, "member_a"), column(Friendship, "member_b")
    pairs: list[tuple[int, int, int]] = []
    for chunk in chunks(rises, PASSED_CHUNK):
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        sql = (f"WITH rises (member_id, old_score, new_score) AS (VALUES {values})"
               f" {side(a, b)} UNION ALL {side(b, a)}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for rise in chunk for value in rise] + 2 * list(listed_params))
            pairs.extend(cursor.fetchall())
    return sorted(pairs)
