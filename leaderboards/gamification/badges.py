"""Badges (DESIGN.md §9): the catalogue, its rules, the reads and the one way to award one.

The catalogue (``CATALOGUE``) is the only place a badge is defined: its code, name, tiers, what it
is for, how to earn it, and a rule that reads the database. A rule returns every award the
member's history entitles them to; ``badges_evaluate`` awards the ones they do not hold yet. So
the same code serves the live triggers, the daily tenure sweep and ``manage.py badges_rebuild``,
and a rebuild equals the incremental result.

Awarding is idempotent: ``BadgeAward``'s unique constraint ``badge_awarded_once`` (member, badge,
tier, key) decides, and only the caller whose INSERT won notifies the member. A badge never
touches the score, the ledger or the boards.

Triggers (the ``*_later`` functions below, called by the receivers in ``receivers``; each hands
ids to one Celery task after commit, so the scoring pipeline pays nothing but the enqueue):

* ``scores_changed`` / ``score_changed`` → band badges, only for members whose new score's band
  is above the old one's (pure Python per move; no query; one task per batch, none otherwise);
* ``bases_changed`` (an event was scored, in batches) → streak badges, one task per batch, for
  the members whose change came with a payment that may be on time (``payments_on_time``);
* ``friendship_started`` → first friend and invitations accepted, for both members;
* ``dispute_decided`` → dispute resolved;
* ``season_ended`` (the boards closed a season) → most improved (``badges_season_award``);
* a daily beat task → one year a member (``badges_anniversaries_award``);
* the challenges code → ``badge_award(badge=CHALLENGE_WON, key=challenge_key(id), …)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications.feed import notify, notify_many
from accounts.notifications.models import LINK_MAX_LENGTH, TEXT_MAX_LENGTH, Notification, NotificationMute
from config.kernel.after_commit import enqueue_on_commit
from config.kernel.bulk_sql import rows_update
from config.kernel.chunks import chunks
from leaderboards.boards.models import SeasonEntry
from leaderboards.gamification.models import (
    BADGE_EXPLANATION_LENGTH,
    BADGE_KEY_LENGTH,
    BadgeAward,
    Challenge,
    ChallengeParticipant,
)
from leaderboards.live.broadcast import member_push
from leaderboards.live.protocol import MessageType
from scoring.ingestion.models import Event
from scoring.ledger.models import ScoreChange
from scoring.ledger.streaks import Payment, Streak, member_streak, member_zone, members_streaks, streak_from
from scoring.model import PARAMS, band_bounds, band_for
from scoring.moderation.models import Dispute
from social.graph.models import Friendship
from social.invitations.models import Invitation

logger = logging.getLogger(__name__)

# --- codes (shared by the code that awards and the tests that check) -----------------------------

FIRST_FRIEND = "first_friend"
INVITATIONS = "invitations_accepted"
STREAK = "on_time_streak"
BAND_FAIR = "band_fair"
BAND_GOOD = "band_good"
BAND_VERY_GOOD = "band_very_good"
BAND_EXCELLENT = "band_excellent"
MOST_IMPROVED = "most_improved"
ONE_YEAR = "one_year"
DISPUTE_RESOLVED = "dispute_resolved"
CHALLENGE_WON = "challenge_won"

BRONZE, SILVER, GOLD = "bronze", "silver", "gold"

#: Which trigger re-evaluates which rules (``badges_evaluate(families=…)``).
SOCIAL, BANDS, STREAKS, SEASONS, TENURE, DISPUTES, CHALLENGES = (
    "social", "bands", "streaks", "seasons", "tenure", "disputes", "challenges")

#: Awards per INSERT statement of a batch (6 parameters each: well under SQLite's limit).
AWARDS_PER_INSERT = 500

#: Most improved of the week: final ranks up to this one (standard competition ranking, so a
#: tie can make more than three winners), with a positive gain.
MOST_IMPROVED_TOP = 3

#: A year is at least this long: members who joined this long ago are the candidates for
#: ``ONE_YEAR`` (its rule checks the calendar year).
A_YEAR_AT_LEAST = timedelta(days=365)


def season_key(season_id: int) -> str:
    return f"season:{season_id}"


def challenge_key(challenge_id: int) -> str:
    return f"challenge:{challenge_id}"


# --- the member's facts, read lazily (each at most once per evaluation) --------------------------


def day(value: date | datetime, tz: ZoneInfo | None = None) -> str:
    """"3 Nov 2026": a datetime as the member's local date."""
    if isinstance(value, datetime):
        value = timezone.localtime(value, tz or ZoneInfo("UTC")).date()
    return f"{value.day} {value:%b %Y}"


def years_later(moment: datetime, years: int = 1) -> datetime:
    """The same moment ``years`` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


class Facts:
    """What the rules read about one member, each loaded on first use."""

    def __init__(self, member: User, now: datetime | None = None) -> None:
        self.member = member
        self.now = now or timezone.now()
        #: ``band_reached`` answers read for a whole batch at once (``_bands_prefill``), by band.
        self.bands_reached: dict[int, tuple[datetime, int]] = {}

    @cached_property
    def tz(self) -> ZoneInfo:
        return member_zone(self.member)

    def day(self, value: date | datetime) -> str:
        return day(value, self.tz)

    @cached_property
    def first_friendship(self) -> tuple[datetime, str] | None:
        """(accepted_at, the friend's username) of the member's first friendship, ended or not."""
        row = (Friendship.objects.of_member(self.member.pk).order_by("accepted_at", "pk")
               .values_list("accepted_at", "member_a_id", "member_a__username", "member_b__username").first())
        if row is None:
            return None
        accepted_at, a_id, a_name, b_name = row
        return accepted_at, b_name if a_id == self.member.pk else a_name

    @cached_property
    def invitations_used(self) -> list[datetime]:
        """When the member's invitations were accepted, oldest first (up to the gold goal)."""
        goal = max(t.goal for t in BY_CODE[INVITATIONS].tiers)
        used = (Invitation.objects.filter(inviter_id=self.member.pk, used_at__isnull=False)
                .order_by("used_at", "pk").values_list("used_at", flat=True)[:goal])
        return [at for at in used if at is not None]

    @cached_property
    def streak(self) -> Streak:
        return member_streak(member=self.member, now=self.now)

    @cached_property
    def best_score(self) -> int:
        """The member's highest score ever (the ledger, or the current score without one)."""
        best = ScoreChange.objects.filter(member_id=self.member.pk).aggregate(best=Max("new_score"))["best"]
        return max(best or 0, self.member.score or 0)

    def band_reached(self, lowest: int) -> tuple[datetime, int] | None:
        """(when, score) the member first scored ``lowest`` or more; None if they never did."""
        if self.best_score < lowest:
            return None  # one cheap aggregate for every band not reached
        if lowest in self.bands_reached:
            return self.bands_reached[lowest]
        row = (ScoreChange.objects.filter(member_id=self.member.pk, new_score__gte=lowest)
               .order_by("created_at", "pk").values_list("created_at", "new_score").first())
        if row is None:  # no ledger row says so, but the current score does
            assert self.member.score is not None
            return self.member.score_reached_at or self.now, self.member.score
        return row

    @cached_property
    def seasons_top(self) -> list[SeasonEntry]:
        return list(SeasonEntry.objects.filter(
            member_id=self.member.pk, season__closed=True, final_rank__lte=MOST_IMPROVED_TOP, points__gt=0,
        ).select_related("season").order_by("season__starts_at"))

    @cached_property
    def first_decided_dispute(self) -> tuple[datetime, str] | None:
        row = (Dispute.objects.filter(member_id=self.member.pk, resolved_at__isnull=False)
               .exclude(status=Dispute.Status.OPEN).order_by("resolved_at", "pk")
               .values_list("resolved_at", "status").first())
        return (row[0], row[1]) if row is not None and row[0] is not None else None

    @cached_property
    def challenges_won(self) -> list[ChallengeParticipant]:
        return list(ChallengeParticipant.objects.filter(
            member_id=self.member.pk, is_winner=True, challenge__status=Challenge.Status.FINISHED,
        ).select_related("challenge").order_by("challenge__finished_at", "challenge_id"))


# --- the catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    tier: str  # "bronze" | "silver" | "gold"
    goal: int  # invitations, months, …


@dataclass(frozen=True)
class Due:
    """A rule's verdict: the member's history entitles them to this award."""

    badge: str
    tier: str
    key: str
    explanation: str


@dataclass(frozen=True)
class Progress:
    current: int
    goal: int
    text: str  # "3 of 5 invitations accepted"

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current, "goal": self.goal, "text": self.text}


@dataclass(frozen=True)
class Badge:
    code: str
    name: str
    description: str
    how: str  # how to earn it, shown while it is not earned
    family: str
    rule: Callable[[Badge, Facts], list[Due]]
    #: Progress towards ``goal`` (the next tier's, or 1 for a one-off), or None when it has none.
    progress: Callable[[Badge, Facts, int], Progress | None] = lambda badge, facts, goal: None
    tiers: tuple[Tier, ...] = ()
    #: Awarded again and again, one per ``key`` (a season, a challenge).
    repeatable: bool = False
    #: Band badges: the band's lowest score.
    lowest: int = 0

    def tier_names(self) -> list[str]:
        return [t.tier for t in self.tiers] or [""]

    def label(self, tier: str = "") -> str:
        return f"{self.name} ({tier.capitalize()})" if tier else self.name


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _first_friend(badge: Badge, f: Facts) -> list[Due]:
    if f.first_friendship is None:
        return []
    at, name = f.first_friendship
    return [Due(badge.code, "", "", f"Awarded for your first friend: {name}, on {f.day(at)}")]


def _invitations(badge: Badge, f: Facts) -> list[Due]:
    used = f.invitations_used
    due = []
    for t in badge.tiers:
        if len(used) >= t.goal:
            what = "your first accepted invitation" if t.goal == 1 else \
                f"{t.goal} accepted invitations, the {_ordinal(t.goal)}"
            due.append(Due(badge.code, t.tier, "", f"Awarded for {what} on {f.day(used[t.goal - 1])}"))
    return due


def _invitations_progress(badge: Badge, f: Facts, goal: int) -> Progress:
    n = min(len(f.invitations_used), goal)
    return Progress(n, goal, f"{n} of {_plural(goal, 'invitation')} accepted")


def _streak(badge: Badge, f: Facts) -> list[Due]:
    s = f.streak
    due = []
    for t in badge.tiers:
        if s.best_months < t.goal:
            continue
        if s.current_months >= t.goal and s.last_on_time is not None:
            text = f"Awarded for {t.goal} months of on-time payments, last one on {f.day(s.last_on_time)}"
        else:  # earned by an earlier streak (a rebuild finds it)
            text = f"Awarded for {t.goal} months of on-time payments (your best streak: {s.best_months} months)"
        due.append(Due(badge.code, t.tier, "", text))
    return due


def _streak_progress(badge: Badge, f: Facts, goal: int) -> Progress:
    n = min(f.streak.current_months, goal)
    return Progress(n, goal, f"{n} of {goal} months on time in a row")


def _band(badge: Badge, f: Facts) -> list[Due]:
    reached = f.band_reached(badge.lowest)
    if reached is None:
        return []
    at, score = reached
    band = band_for(badge.lowest)
    return [Due(badge.code, "", "", f"Awarded for reaching {band} ({badge.lowest}+): {score} on {f.day(at)}")]


def _band_progress(badge: Badge, f: Facts, goal: int) -> Progress:
    score = f.member.score or 0
    if not score:
        return Progress(0, badge.lowest, "No score yet")
    return Progress(min(score, badge.lowest), badge.lowest,
                    f"{score} of {badge.lowest}: {_plural(max(badge.lowest - score, 0), 'point')} to go")


def most_improved_explanation(entry: SeasonEntry) -> str:
    week = entry.season.starts_at.date()  # seasons start on Monday 00:00 UTC
    return (f"Awarded for most improved of the week of {day(week)}: "
            f"#{entry.final_rank} with {entry.points:+d} points")


def _most_improved(badge: Badge, f: Facts) -> list[Due]:
    return [Due(badge.code, "", season_key(e.season_id), most_improved_explanation(e)) for e in f.seasons_top]


def _one_year(badge: Badge, f: Facts) -> list[Due]:
    joined = f.member.date_joined
    if years_later(joined) > f.now:
        return []
    return [Due(badge.code, "", "", f"Awarded for one year as a member: joined on {f.day(joined)}")]


def _one_year_progress(badge: Badge, f: Facts, goal: int) -> Progress:
    total = (years_later(f.member.date_joined) - f.member.date_joined).days
    days = min(max((f.now - f.member.date_joined).days, 0), total)
    return Progress(days, total, f"{days} of {total} days as a member")


def _dispute(badge: Badge, f: Facts) -> list[Due]:
    if f.first_decided_dispute is None:
        return []
    at, status = f.first_decided_dispute
    outcome = Dispute.Status(status).label.lower()
    return [Due(badge.code, "", "", f"Awarded for a dispute decided on {f.day(at)} ({outcome})")]


def challenge_won_explanation(participant: ChallengeParticipant, tz: ZoneInfo | None = None) -> str:
    challenge = participant.challenge
    when = challenge.finished_at or challenge.ends_at
    return f"Awarded for winning challenge #{challenge.pk} with {participant.points:+d} points, on {day(when, tz)}"


def _challenges(badge: Badge, f: Facts) -> list[Due]:
    return [Due(badge.code, "", challenge_key(p.challenge_id), challenge_won_explanation(p, f.tz))
            for p in f.challenges_won]


def _bands() -> list[Badge]:
    codes = {"Fair": BAND_FAIR, "Good": BAND_GOOD, "Very good": BAND_VERY_GOOD, "Excellent": BAND_EXCELLENT}
    return [Badge(codes[name], f"{name} band", f"Your score reached the {name} band ({lowest} and above).",
                  f"Reach a score of {lowest}.", BANDS, _band, _band_progress, lowest=lowest)
            for lowest, name in PARAMS.bands]


CATALOGUE: tuple[Badge, ...] = (
    Badge(FIRST_FRIEND, "First friend", "You made your first friend on Credo.",
          "Become friends with someone: send a request or share an invitation.", SOCIAL, _first_friend,
          lambda b, f, goal: Progress(0, 1, "No friends yet")),
    Badge(INVITATIONS, "Connector", "Friends joined you through your invitations.",
          "Invite friends: each invitation they accept counts.", SOCIAL, _invitations, _invitations_progress,
          tiers=(Tier(BRONZE, 1), Tier(SILVER, 5), Tier(GOLD, 25))),
    Badge(STREAK, "On-time streak", "Card repayments and bills paid on time, months in a row, nothing late.",
          "Pay every card repayment and bill on time, month after month.", STREAKS, _streak, _streak_progress,
          tiers=(Tier(BRONZE, 3), Tier(SILVER, 6), Tier(GOLD, 12))),
    *_bands(),
    Badge(MOST_IMPROVED, "Most improved", "Top 3 of the weekly board when the week closed.",
          "Gain more points than (almost) everyone this week: the top 3 of the weekly board win it.",
          SEASONS, _most_improved, repeatable=True),
    Badge(ONE_YEAR, "One year", "A year as a Credo member.", "Stay a member for a year.", TENURE, _one_year,
          _one_year_progress),
    Badge(DISPUTE_RESOLVED, "Set the record straight", "A dispute of yours was decided.",
          "Dispute an event you believe is wrong; the badge comes when it is decided (by the partner that "
          "reported it, a moderator, or in your favour if the partner does not answer in time).",
          DISPUTES, _dispute),
    Badge(CHALLENGE_WON, "Challenge won", "You gained the most points in a challenge between friends.",
          "Challenge friends to gain more points than them this week, and win.", CHALLENGES, _challenges,
          repeatable=True),
)
BY_CODE: dict[str, Badge] = {b.code: b for b in CATALOGUE}


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarnedBadge:
    badge: str
    name: str
    tier: str
    key: str
    explanation: str
    awarded_at: datetime
    award_id: int = 0  # orders awards of the same moment (not shown)

    @classmethod
    def of(cls, award: BadgeAward) -> EarnedBadge:
        definition = BY_CODE.get(award.badge)
        return cls(award.badge, definition.name if definition else award.badge, award.tier, award.key,
                   award.explanation, award.awarded_at, award.pk)

    def as_dict(self) -> dict[str, Any]:
        return {"badge": self.badge, "name": self.name, "tier": self.tier, "key": self.key,
                "explanation": self.explanation, "awarded_at": self.awarded_at.isoformat()}


def badges_of(*, member: User) -> list[EarnedBadge]:
    """The member's badges, newest first (one query). Whoever calls decides who may see them."""
    return [EarnedBadge.of(a) for a in BadgeAward.objects.filter(member_id=member.pk)]


@dataclass(frozen=True)
class BadgeStatus:
    """A catalogue entry as one member sees it: what they earned, and what the next step takes."""

    badge: Badge
    earned: list[EarnedBadge]
    next_tier: str  # the next tier to earn ("" for a one-off, or when all are earned)
    progress: Progress | None  # None when earned for good, or when it has no measure

    @property
    def complete(self) -> bool:
        """Earned, every tier of it (a repeatable badge can always be earned again)."""
        return bool(self.earned) and not self.next_tier and not self.badge.repeatable

    def as_dict(self) -> dict[str, Any]:
        held = {e.tier for e in self.earned}
        b = self.badge
        return {
            "badge": b.code, "name": b.name, "description": b.description, "how": b.how,
            "repeatable": b.repeatable,
            "tiers": [{"tier": t.tier, "goal": t.goal, "earned": t.tier in held} for t in b.tiers],
            "earned": [e.as_dict() for e in self.earned],
            "next_tier": self.next_tier,
            "progress": self.progress.as_dict() if self.progress else None,
        }


def newest_first(statuses: Iterable[BadgeStatus]) -> list[EarnedBadge]:
    """Every award of an overview, newest first (as ``badges_of``)."""
    return sorted((e for s in statuses for e in s.earned), key=lambda e: (e.awarded_at, e.award_id), reverse=True)


def badges_overview(*, member: User, now: datetime | None = None) -> list[BadgeStatus]:
    """Every badge of the catalogue, in catalogue order, with the member's awards and progress."""
    facts = Facts(member, now)
    earned: dict[str, list[EarnedBadge]] = {}
    for e in badges_of(member=member):
        earned.setdefault(e.badge, []).append(e)
    out = []
    for b in CATALOGUE:
        mine = earned.get(b.code, [])
        held = {e.tier for e in mine}
        missing = [t for t in b.tiers if t.tier not in held]
        next_tier, progress = "", None
        if missing:
            next_tier = missing[0].tier
            progress = b.progress(b, facts, missing[0].goal)
        elif not b.tiers and not mine:
            progress = b.progress(b, facts, 1)
        out.append(BadgeStatus(b, mine, next_tier, progress))
    return out


# --- writes --------------------------------------------------------------------------------------


def badge_award(*, member_id: int, badge: str, tier: str = "", key: str = "", explanation: str,
                at: datetime | None = None) -> BadgeAward | None:
    """Award ``badge`` (``tier``, ``key``) to the member, once. Returns the new award, or None
    when they already held it. Newly awarded: one notification (unless the member muted badges)
    and a ``me.changed`` push, both after commit. Never touches the score. ``key`` and
    ``explanation`` are cut to their columns' lengths.

    Idempotency: the INSERT runs in a savepoint and the unique constraint ``badge_awarded_once``
    decides. Unlike ``bulk_create(ignore_conflicts=True)`` (ON CONFLICT DO NOTHING, which
    returns no row), a refused INSERT tells this caller for certain that it lost, so exactly
    one of two concurrent callers notifies. On PostgreSQL the second INSERT waits on the
    first's index entry and fails only once that one committed.
    """
    definition = BY_CODE.get(badge)
    if definition is None:
        raise ValueError(f"unknown badge {badge!r}")
    if tier not in definition.tier_names():
        raise ValueError(f"badge {badge!r} has no tier {tier!r}")
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the constraint may refuse the row
                award = BadgeAward.objects.create(
                    member_id=member_id, badge=badge, tier=tier, key=key[:BADGE_KEY_LENGTH],
                    awarded_at=at or timezone.now(), explanation=explanation[:BADGE_EXPLANATION_LENGTH])
        except IntegrityError:
            if BadgeAward.objects.filter(member_id=member_id, badge=badge, tier=tier,
                                         key=key[:BADGE_KEY_LENGTH]).exists():
                return None  # held already (maybe awarded this very moment by a concurrent caller)
            raise  # something else, e.g. the member is gone
        notify(member_id=member_id, kind=Notification.Kind.BADGE,
               text=f"New badge: {definition.label(tier)}. {explanation}.", link=reverse("badges"))
        member_push(member_id=member_id, payload={"type": MessageType.ME_CHANGED, "what": ["badges"]})
    return award


def badges_award_many(*, due: Sequence[tuple[int, Due]], at: datetime | None = None) -> list[BadgeAward]:
    """``badge_award`` for many ``(member_id, due)`` at once (a batch's evaluation), in order:
    the awards not held yet are inserted by ONE ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    (the constraint ``badge_awarded_once`` decides, as in ``badge_award``: only rows this
    statement inserted come back, so exactly one of two concurrent callers notifies), then
    one ``notify_many`` and one ``me.changed`` push per member who got any, all in one
    transaction. Returns the new awards. Should the database refuse a row for another reason (a
    member deleted meanwhile), every award is retried alone through ``badge_award``, so one bad
    row does not stop the others (when called inside a caller's transaction, a foreign key is
    only checked at the caller's commit: that transaction fails, as with ``badge_award``)."""
    if not due:
        return []
    now = timezone.now()
    rows = []
    for member_id, d in due:
        definition = BY_CODE.get(d.badge)
        if definition is None:
            raise ValueError(f"unknown badge {d.badge!r}")
        if d.tier not in definition.tier_names():
            raise ValueError(f"badge {d.badge!r} has no tier {d.tier!r}")
        rows.append(BadgeAward(member_id=member_id, badge=d.badge, tier=d.tier, key=d.key[:BADGE_KEY_LENGTH],
                               awarded_at=at or now, explanation=d.explanation[:BADGE_EXPLANATION_LENGTH]))
    try:
        with transaction.atomic():
            new = _awards_store(rows, [d for _, d in due])
            notify_many(kind=Notification.Kind.BADGE, link=reverse("badges"),
                        items=[(row.member_id, f"New badge: {BY_CODE[d.badge].label(d.tier)}. {d.explanation}.")
                               for row, d in new])
            for member_id in dict.fromkeys(row.member_id for row, _ in new):
                member_push(member_id=member_id, payload={"type": MessageType.ME_CHANGED, "what": ["badges"]})
    except IntegrityError:
        # A row the database refuses (its member deleted meanwhile: a foreign key, checked at
        # the INSERT or at commit): every award alone, so the others are still made.
        logger.warning("a batch of %d badge awards was refused; awarding them one by one", len(due), exc_info=True)
        awarded = []
        for member_id, d in due:
            try:
                with transaction.atomic():
                    award = badge_award(member_id=member_id, badge=d.badge, tier=d.tier, key=d.key,
                                        explanation=d.explanation, at=at)
            except IntegrityError:
                logger.exception("badge %s not awarded to member %s", d.badge, member_id)
                continue
            if award is not None:
                awarded.append(award)
        return awarded
    return [row for row, _ in new]


def _awards_store(rows: Sequence[BadgeAward], due: Sequence[Due]) -> list[tuple[BadgeAward, Due]]:
    """INSERT ``rows`` (``due[i]`` is the reason for ``rows[i]``) through ``_awards_insert``; the
    rows this statement inserted, as saved instances with their primary keys, each with its
    reason."""
    inserted = _awards_insert(rows)
    new = [(row, d) for row, d in zip(rows, due, strict=True) if (row.member_id, row.badge, row.tier, row.key)
           in inserted]
    for row, _ in new:
        row.pk = inserted[(row.member_id, row.badge, row.tier, row.key)]
        row._state.adding = False
    return new


def _awards_insert(rows: Sequence[BadgeAward]) -> dict[tuple[int, str, str, str], int]:
    """INSERT the rows, skipping those ``badge_awarded_once`` refuses; ``{(member_id, badge,
    tier, key): pk}`` of the rows inserted. One statement, built from the model's metadata
    (PostgreSQL and SQLite ≥ 3.35 both have ON CONFLICT … RETURNING)."""
    meta: Any = BadgeAward._meta
    fields = [meta.get_field(n) for n in ("member", "badge", "tier", "key", "awarded_at", "explanation")]
    unique = [meta.get_field(n) for n in ("member", "badge", "tier", "key")]
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "  # noqa: S608 - ours
    tail = (f" ON CONFLICT ({', '.join(qn(f.column) for f in unique)}) DO NOTHING"
            f" RETURNING {qn(meta.pk.column)}, {', '.join(qn(f.column) for f in unique)}")
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted: dict[tuple[int, str, str, str], int] = {}
    with connection.cursor() as cursor:
        for chunk in chunks(rows, AWARDS_PER_INSERT):
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail,
                           [f.get_db_prep_save(f.pre_save(award, True), connection) for award in chunk for f in fields])
            inserted.update({(member, badge, tier, key): pk for pk, member, badge, tier, key in cursor.fetchall()})
    return inserted


def badges_evaluate(*, member_id: int, families: Collection[str] | None = None,
                    now: datetime | None = None) -> list[BadgeAward]:
    """Evaluate the rules (all, or those of ``families``) for one member and award what is due.
    Returns the new awards. Reads first (one query for what they hold; a rule whose every award
    is held is not evaluated at all), then awards what is due in one transaction
    (``badges_evaluate_many``)."""
    return badges_evaluate_many(member_ids=[member_id], families=families, now=now)


def _complete(b: Badge, mine: set[tuple[str, str, str]]) -> bool:
    """Every tier of a one-off badge held: its rule need not run."""
    return not b.repeatable and all((b.code, t, "") in mine for t in b.tier_names())


def _bands_prefill(facts: Mapping[int, Facts], rules: Iterable[Badge],
                   held: Mapping[int, set[tuple[str, str, str]]]) -> None:
    """What the band rules read (``Facts.best_score``, ``Facts.band_reached``), for every member
    of a batch at once: one aggregate, then one query per band some member may have reached
    and does not hold — not one or two per member."""
    bands = [b for b in rules if b.family == BANDS]
    short = {pk: f for pk, f in facts.items() if any(not _complete(b, held[pk]) for b in bands)}
    if not short:
        return
    best = dict(ScoreChange.objects.filter(member_id__in=list(short)).order_by().values("member_id")
                .annotate(best=Max("new_score")).values_list("member_id", "best"))
    for pk, f in short.items():
        f.__dict__["best_score"] = max(best.get(pk) or 0, f.member.score or 0)  # fills the cached_property
    for b in bands:
        reaching = [pk for pk, f in short.items() if not _complete(b, held[pk]) and f.best_score >= b.lowest]
        if not reaching:
            continue
        first = (ScoreChange.objects.filter(member_id=OuterRef("pk"), new_score__gte=b.lowest)
                 .order_by("created_at", "pk"))
        rows = (User.objects.filter(pk__in=reaching).order_by()
                .annotate(first_at=Subquery(first.values("created_at")[:1]),
                          first_score=Subquery(first.values("new_score")[:1]))
                .values_list("pk", "first_at", "first_score"))
        for pk, at, score in rows:
            f = short[pk]
            if at is None:  # no ledger row says so, but the current score does (as band_reached)
                current = f.member.score
                assert current is not None
                f.bands_reached[b.lowest] = (f.member.score_reached_at or f.now, current)
            else:
                f.bands_reached[b.lowest] = (at, score)


def badges_evaluate_many(*, member_ids: Collection[int], families: Collection[str] | None = None,
                         now: datetime | None = None) -> list[BadgeAward]:
    """``badges_evaluate`` for many members (a scoring batch): the members, what they hold, their
    streaks (streak badges) and the ledger facts of the band badges are read with a few queries
    for the whole batch, and what is due is awarded with one INSERT (``badges_award_many``)."""
    members = list(User.objects.filter(pk__in=list(member_ids), is_active=True).order_by("pk"))
    if not members:
        return []
    held: dict[int, set[tuple[str, str, str]]] = {m.pk: set() for m in members}
    for member_id, badge, tier, key in BadgeAward.objects.filter(member_id__in=list(held)).values_list(
            "member_id", "badge", "tier", "key"):
        held[member_id].add((badge, tier, key))
    rules = [b for b in CATALOGUE if families is None or b.family in families]
    now = now or timezone.now()
    facts = {m.pk: Facts(m, now) for m in members}
    if any(b.family == STREAKS for b in rules):
        # Only for members still short of a streak tier (the rule is skipped for the others).
        short = [m for m in members if not _complete(BY_CODE[STREAK], held[m.pk])]
        if short:
            for pk, streak in members_streaks(members=short, now=now).items():
                facts[pk].__dict__["streak"] = streak  # fills the cached_property
    _bands_prefill(facts, rules, held)
    due: list[tuple[int, Due]] = []
    for member in members:
        mine = held[member.pk]
        for b in rules:
            if _complete(b, mine):
                continue
            due.extend((member.pk, d) for d in b.rule(b, facts[member.pk]) if (d.badge, d.tier, d.key) not in mine)
    # ``at=now``: the moment of the evaluation, as each award had it one at a time.
    return badges_award_many(due=due, at=now)


def badges_season_award(*, season_id: int) -> list[BadgeAward]:
    """Most improved of a closed week: every member whose final rank is in the top 3 with a gain
    (ties share a rank, so there may be more than three)."""
    entries = SeasonEntry.objects.filter(
        season_id=season_id, season__closed=True, final_rank__lte=MOST_IMPROVED_TOP, points__gt=0,
        member__is_active=True,
    ).select_related("season").order_by("final_rank", "reached_at")
    awarded = []
    for entry in entries:
        award = badge_award(member_id=entry.member_id, badge=MOST_IMPROVED, key=season_key(season_id),
                            explanation=most_improved_explanation(entry))
        if award is not None:
            awarded.append(award)
    return awarded


def badges_anniversaries_award(*, now: datetime | None = None) -> int:
    """Daily: one year a member, for those who passed the mark and do not hold it yet."""
    now = now or timezone.now()
    candidates = (User.objects.filter(is_active=True, date_joined__lte=now - A_YEAR_AT_LEAST)
                  .exclude(badges__badge=ONE_YEAR).order_by("pk").values_list("pk", flat=True))
    return sum(len(badges_evaluate(member_id=pk, families=[TENURE], now=now)) for pk in candidates.iterator())


def badges_rebuild(*, member_ids: Iterable[int]) -> list[BadgeAward]:
    """Re-evaluate every rule for these members (``manage.py badges_rebuild``). Idempotent."""
    awarded: list[BadgeAward] = []
    for member_id in member_ids:
        awarded.extend(badges_evaluate(member_id=member_id))
    return awarded


# --- triggers (asked for by the receivers of other parts' signals, in ``receivers``) ------------------


def _band_floor(score: int | None) -> int:
    """The lowest score of the score's band (no score: the lowest band's): higher is better."""
    return PARAMS.score_min if score is None else band_bounds(score)[0]


def badges_evaluate_later(*, member_ids: list[int], families: list[str]) -> None:
    """Evaluate these badge families for these members in ONE task, enqueued after commit."""
    enqueue_on_commit("leaderboards.gamification.tasks.evaluate_badges", member_ids, families)


def band_badges_evaluate_later(*, changes: Iterable[Mapping[str, Any]]) -> None:
    """Scores moved (``scoring.ledger.signals.ScoreMove`` dicts): band badges for the members
    whose score climbed into a higher band (picked in Python, no query), one task for the batch;
    nothing otherwise."""
    risen = sorted({c["member_id"] for c in changes if _band_floor(c["new_score"]) > _band_floor(c["old_score"])})
    if risen:
        badges_evaluate_later(member_ids=risen, families=[BANDS])


def streak_badges_evaluate_later(*, member_ids: list[int], payments_on_time: list[int] | None = None) -> None:
    """Events were scored (a batch): streak badges, one task for the batch — for the members
    whose change came with a payment that may be on time, when the sender says which (nothing
    else can lengthen a streak: a starting score, a purchase, a late payment); all otherwise."""
    candidates = member_ids if payments_on_time is None else payments_on_time
    if candidates:
        badges_evaluate_later(member_ids=sorted(set(candidates)), families=[STREAKS])


def season_badges_award_later(*, season_id: int) -> None:
    """The boards closed a season: most improved of the week, awarded by a task."""
    enqueue_on_commit("leaderboards.gamification.tasks.award_season_badges", season_id)


# --- a history loaded at once (the demo world) ------------------------------------------------------

#: Members per batch when badges are derived from histories loaded at once.
HISTORY_BATCH = 500


#: The rule families a history loaded at once can have earned: no disputes, challenges or closed
#: seasons exist yet in a world loaded at once.
HISTORY_FAMILIES = (SOCIAL, BANDS, STREAKS, TENURE)


def badges_award_history(*, member_ids: Sequence[int], now: datetime | None = None) -> list[BadgeAward]:
    """Award what these members' histories earned and date each new award, and its
    notification, when the live triggers would have made it: a band when the ledger first
    reached it, a streak tier when the on-time payment that completed it was received, the first
    friend when the friendship was accepted, a year as a member on the anniversary (never after
    ``now``). For histories whose score changes were never announced (``seed_demo``): the
    catalogue's own rules (``HISTORY_FAMILIES``) decide what is due, as ``badges_evaluate_many``
    does, read for a batch at a time; the awards are inserted with one statement per batch (the
    constraint ``badge_awarded_once`` decides, so it is idempotent) and notified with one
    ``notify_many``, without a live push (nobody watches a world being loaded)."""
    now = now or timezone.now()
    rules = [b for b in CATALOGUE if b.family in HISTORY_FAMILIES]
    awarded: list[BadgeAward] = []
    for chunk in chunks(sorted(member_ids), HISTORY_BATCH):
        members = list(User.objects.filter(pk__in=chunk, is_active=True).order_by("pk"))
        held: dict[int, set[tuple[str, str, str]]] = {m.pk: set() for m in members}
        for member_id, badge, tier, key in BadgeAward.objects.filter(member_id__in=list(held)).values_list(
                "member_id", "badge", "tier", "key"):
            held[member_id].add((badge, tier, key))
        facts = {m.pk: Facts(m, now) for m in members}
        for pk, streak in members_streaks(members=members, now=now).items():
            facts[pk].__dict__["streak"] = streak  # fills the cached_property
        first_friend = _first_friendships(list(held))
        for pk, f in facts.items():
            f.__dict__["first_friendship"] = first_friend.get(pk)
        _bands_prefill(facts, rules, held)
        due = [(m.pk, d) for m in members for b in rules if not _complete(b, held[m.pk])
               for d in b.rule(b, facts[m.pk]) if (d.badge, d.tier, d.key) not in held[m.pk]]
        rows = [BadgeAward(member_id=pk, badge=d.badge, tier=d.tier, key=d.key[:BADGE_KEY_LENGTH], awarded_at=now,
                           explanation=d.explanation[:BADGE_EXPLANATION_LENGTH]) for pk, d in due]
        with transaction.atomic():
            new = _awards_store(rows, [d for _, d in due])
            when = _history_due_at([row for row, _ in new], now=now, first_friend=first_friend)
            for row, _ in new:
                row.awarded_at = when.get(row.pk, now)
            rows_update(BadgeAward, key="id", fields=("awarded_at",), rows=[(r.awarded_at, r.pk) for r, _ in new])
            notifications_dated(kind=Notification.Kind.BADGE, link=reverse("badges"), items=[
                (row.member_id, f"New badge: {BY_CODE[d.badge].label(d.tier)}. {d.explanation}.", row.awarded_at)
                for row, d in new])
        awarded.extend(row for row, _ in new)
    return awarded


def notifications_dated(*, kind: str, link: str, items: Sequence[tuple[int, str, datetime]]) -> int:
    """Notifications of things that happened in the past (a history loaded at once), each
    ``(member_id, text, when)`` dated when it happened; a muted kind is skipped, as
    ``notify_many`` skips it. One INSERT, and no announcement: nobody watches a history being
    loaded, and the feed is read from the database. Returns how many were written."""
    muted = set(NotificationMute.objects.filter(member_id__in={m for m, _, _ in items}, kind=kind)
                .values_list("member_id", flat=True))
    rows = [Notification(member_id=member_id, kind=kind, text=text[:TEXT_MAX_LENGTH], link=link[:LINK_MAX_LENGTH],
                         created_at=at) for member_id, text, at in items if member_id not in muted]
    Notification.objects.bulk_create(rows, batch_size=HISTORY_BATCH)
    return len(rows)


def _first_friendships(member_ids: Sequence[int]) -> dict[int, tuple[datetime, str]]:
    """``Facts.first_friendship`` for many members: (accepted_at, the friend's username) of each
    one's first friendship, ended or not (two queries, one per side of the pair)."""
    first: dict[int, tuple[datetime, int, str]] = {}
    for me, other in (("member_a", "member_b"), ("member_b", "member_a")):
        for member_id, at, pk, friend in (Friendship.objects.filter(**{f"{me}_id__in": member_ids}).order_by()
                                          .values_list(f"{me}_id", "accepted_at", "pk", f"{other}__username")):
            if member_id not in first or (at, pk) < first[member_id][:2]:
                first[member_id] = (at, pk, friend)
    return {member_id: (at, friend) for member_id, (at, _, friend) in first.items()}


def _history_due_at(awards: Sequence[BadgeAward], *, now: datetime,
                    first_friend: Mapping[int, tuple[datetime, str]]) -> dict[int, datetime]:
    """When each of these awards became due (award id → moment), for the kinds whose moment the
    history tells; never after ``now``."""
    if not awards:
        return {}
    members = {m.pk: m for m in User.objects.filter(pk__in={a.member_id for a in awards})}
    due: dict[int, datetime] = {}
    bands = {b.code: b.lowest for b in CATALOGUE if b.family == BANDS}
    firsts = {}
    for code, lowest in bands.items():
        ids = [a.member_id for a in awards if a.badge == code]
        if ids:
            first = (ScoreChange.objects.filter(member_id=OuterRef("pk"), new_score__gte=lowest)
                     .order_by("created_at", "pk").values("created_at")[:1])
            firsts[code] = dict(User.objects.filter(pk__in=ids).order_by()
                                .annotate(at=Subquery(first)).values_list("pk", "at"))
    on_streak = {a.member_id for a in awards if a.badge == STREAK}
    streaks = _streak_tiers_reached([m for pk, m in members.items() if pk in on_streak])
    for a in awards:
        at: datetime | None = None
        if a.badge in firsts:
            at = firsts[a.badge].get(a.member_id)
        elif a.badge == FIRST_FRIEND and a.member_id in first_friend:
            at = first_friend[a.member_id][0]
        elif a.badge == ONE_YEAR:
            at = years_later(members[a.member_id].date_joined)
        elif a.badge == STREAK:
            goal = next(t.goal for t in BY_CODE[STREAK].tiers if t.tier == a.tier)
            at = streaks.get(a.member_id, {}).get(goal)
        if at is not None:
            due[a.pk] = min(at, now)
    return due


def _streak_tiers_reached(members: Sequence[User]) -> dict[int, dict[int, datetime]]:
    """For each member, the moment their best on-time streak first reached each tier's goal:
    the receipt of the on-time payment after which ``streak_from`` first counts that many months
    (one query for the members' payments)."""
    if not members:
        return {}
    goals = sorted(t.goal for t in BY_CODE[STREAK].tiers)
    zones = {m.pk: member_zone(m) for m in members}
    payments: dict[int, list[tuple[datetime, datetime, Payment]]] = {m.pk: [] for m in members}
    for member_id, due, paid, missed, amount, amount_paid, occurred_at, received_at in (
            Event.objects.filter(member_id__in=list(payments), status=Event.Status.SCORED,
                                 kind__in=[Event.Kind.CARD_REPAYMENT, Event.Kind.BILL_PAYMENT]).order_by()
            .values_list("member_id", "due_date", "paid_date", "missed", "amount", "amount_paid", "occurred_at",
                         "received_at")):
        paid_day = None if missed else (paid or occurred_at.astimezone(zones[member_id]).date())
        payment = Payment(due_date=due, paid_day=paid_day, missed=missed, amount=amount, amount_paid=amount_paid)
        payments[member_id].append((received_at, occurred_at, payment))
    reached: dict[int, dict[int, datetime]] = {}
    for member_id, rows in payments.items():
        rows.sort(key=lambda r: r[0])
        zone = zones[member_id]
        mine: dict[int, datetime] = {}
        for received_at, _, payment in rows:
            if not payment.on_time:
                continue
            known = [p for r, _, p in rows if r <= received_at]
            best = streak_from(known, today=received_at.astimezone(zone).date(), zone_name=zone.key).best_months
            for goal in goals:
                if goal <= best and goal not in mine:
                    mine[goal] = received_at
            if len(mine) == len(goals):
                break
        reached[member_id] = mine
    return reached
