"""Perks by band (DESIGN.md §9): which a member holds, which they unlock next, and keeping
``PerkGrant`` rows in step with their score.

Rules:

* A member holds an *active* perk while their displayed score (``User.score``) is at or above
  its ``min_score``. Perks never change a score; they only read it.
* A **frozen** or deactivated account holds no perks: a freeze is a moderator's suspicion of
  abuse, and partners should not extend benefits meanwhile. The grants are closed with that
  reason and reopened (as new grants) when the account is unfrozen.
* Every opening and closing is a ``PerkGrant`` row (history is kept: a closed grant keeps its
  ``revoked_at`` and ``revoke_reason``), a notification (kind ``perk``) that says why, and one
  ``me.changed`` push per sync.

``perks_sync`` is idempotent and race-safe: it locks the member's row (``config.kernel.locks``:
concurrent syncs of one member run one after the other and the second finds nothing to do);
beneath that, the partial
unique constraint ``perk_held_once`` refuses a second open grant and the loser skips it without
notifying, and a grant is closed by a conditional UPDATE whose row count decides who notifies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.members.models import User
from accounts.notifications.feed import notify
from accounts.notifications.models import Notification
from config.kernel import locks
from config.kernel.after_commit import call_on_commit, enqueue_on_commit
from config.kernel.chunks import chunks
from leaderboards.gamification.badges import notifications_dated
from leaderboards.gamification.models import REVOKE_REASON_LENGTH, Perk, PerkGrant
from leaderboards.live.broadcast import member_push
from leaderboards.live.protocol import MessageType
from scoring.ledger.models import ScoreChange
from scoring.ledger.streaks import member_zone
from scoring.model import band_for

logger = logging.getLogger(__name__)

THRESHOLDS_CACHE_KEY = "leaderboards:perk-thresholds"
#: Seconds a process trusts its cached thresholds. An admin change clears the key and syncs the
#: members it affects itself, so staleness only matters for other processes' caches.
THRESHOLDS_CACHE_SECONDS = 60
#: Closed grants shown as "recently paused".
RECENTLY_LOST = 5


class Cause:
    """Why a sync runs: the wording of a loss depends on it."""

    SCORE = "score"  # the member's score moved
    CATALOGUE = "catalogue"  # a perk was added, edited, deactivated or reactivated
    ACCOUNT = "account"  # the member was frozen / unfrozen, deactivated / reactivated


# --- selectors ------------------------------------------------------------------------------------


def active_perks() -> QuerySet[Perk]:
    return Perk.objects.filter(is_active=True).order_by("min_score", "name")


def perk_thresholds() -> tuple[int, ...]:
    """The distinct ``min_score`` of active perks, ascending (cached briefly: one small query)."""
    cached = cache.get(THRESHOLDS_CACHE_KEY)
    if cached is None:
        cached = tuple(sorted(set(active_perks().values_list("min_score", flat=True))))
        cache.set(THRESHOLDS_CACHE_KEY, cached, THRESHOLDS_CACHE_SECONDS)
    return tuple(cached)


def thresholds_forget() -> None:
    """The catalogue changed: drop the cached thresholds (after commit)."""
    call_on_commit(cache.delete, THRESHOLDS_CACHE_KEY)


def crosses_threshold(old: int | None, new: int | None, thresholds: Iterable[int]) -> bool:
    """Whether moving from ``old`` to ``new`` (None: no score) puts the member on the other
    side of any threshold, i.e. whether their perks may change."""
    def holds(score: int | None, t: int) -> bool:
        return score is not None and score >= t

    return any(holds(old, t) != holds(new, t) for t in thresholds)


def perks_held(*, member: User) -> QuerySet[PerkGrant]:
    """The member's open grants, perk loaded, lowest threshold first."""
    return (PerkGrant.objects.filter(member=member, revoked_at__isnull=True)
            .select_related("perk").order_by("perk__min_score", "perk__name"))


def _perk_dict(perk: Perk) -> dict[str, Any]:
    return {"slug": perk.slug, "name": perk.name, "description": perk.description, "provider": perk.provider,
            "min_score": perk.min_score, "band": band_for(perk.min_score)}


def _day(moment: datetime, member: User) -> str:
    """The member's own date (their time zone, like streaks and badges)."""
    return date_format(moment.astimezone(member_zone(member)), "j M Y")


@dataclass(frozen=True)
class MemberPerks:
    """What the perks card, page and API show. ``all`` lists every active perk with a
    ``status`` (``held`` | ``locked`` | ``paused``) and a ``why``; ``next`` is the nearest
    threshold above the member's score with its perks; ``lost`` the recently closed grants."""

    score: int | None
    frozen: bool
    held: list[dict[str, Any]] = field(default_factory=list)
    next: dict[str, Any] | None = None
    all: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "frozen": self.frozen, "held": self.held, "next": self.next,
                "all": self.all, "lost": self.lost}


def member_perks(*, member: User) -> MemberPerks:
    """Which perks the member has, which they unlock next (and how many points away), and why
    (three queries, no writes). "Held" is what the grants say; the rest follows the score."""
    score = member.score
    frozen = member.is_frozen or not member.is_active
    perks = list(active_perks())
    grants = {g.perk_id: g for g in perks_held(member=member)}
    lost_rows = list(PerkGrant.objects.filter(member=member, revoked_at__isnull=False)
                     .select_related("perk").order_by("-revoked_at", "-id")[:RECENTLY_LOST])

    held, everything = [], []
    for perk in perks:
        row = _perk_dict(perk)
        grant = grants.get(perk.pk)
        if grant is not None:
            since = _day(grant.granted_at, member)
            row.update(status="held", since=grant.granted_at,
                       why=f"Yours since {since}: your score {score} is at or above {perk.min_score}.")
            held.append(row)
        elif frozen and score is not None and score >= perk.min_score:
            row.update(status="paused", since=None, why="Paused while your account is frozen.")
        elif score is None:
            row.update(status="locked", since=None,
                       why=f"Unlocks at {perk.min_score}. Your first score is on its way.")
        elif score >= perk.min_score:
            # Just crossed: the sync that grants it is on its way.
            row.update(status="locked", since=None, why=f"Unlocking now: your score {score} reached {perk.min_score}.")
        else:
            away = perk.min_score - score
            row.update(status="locked", since=None,
                       why=f"Unlocks at {perk.min_score} ({band_for(perk.min_score)}): {away} "
                           f"point{'s' if away != 1 else ''} to go.")
        everything.append(row)

    upcoming = sorted({p.min_score for p in perks if score is None or p.min_score > score})
    nxt = None
    if upcoming:
        at = upcoming[0]
        nxt = {"min_score": at, "band": band_for(at), "points_away": None if score is None else at - score,
               "perks": [_perk_dict(p) for p in perks if p.min_score == at]}
    lost = [{**_perk_dict(g.perk), "granted_at": g.granted_at, "revoked_at": g.revoked_at, "why": g.revoke_reason}
            for g in lost_rows]
    return MemberPerks(score=score, frozen=frozen, held=held, next=nxt, all=everything, lost=lost)


# --- services -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerkSync:
    """What ``perks_sync`` changed: slugs of the perks gained and lost (each notified once)."""

    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.gained or self.lost)


def gain_text(*, perk: Perk, score: int) -> str:
    return f"You unlocked {perk.name}: your score {score} is at or above {perk.min_score}."


def loss_text(*, perk: Perk, member: User, cause: str) -> str:
    score = member.score
    if member.is_frozen:
        return f"Your account is frozen: {perk.name} is paused until it is unfrozen"
    if not member.is_active:
        return f"Your account is closed: {perk.name} has ended"
    if not perk.is_active:
        return f"{perk.name} is no longer offered, so it has ended for you"
    if score is None:
        return f"You have no score at the moment: {perk.name} is paused"
    if cause == Cause.CATALOGUE:
        return (f"{perk.name} now needs a score of {perk.min_score} and yours is {score}: "
                f"it is paused until you reach {perk.min_score}")
    return (f"Your score fell to {score}, below {perk.min_score}: "
            f"{perk.name} is paused until you are back at {perk.min_score}")


@transaction.atomic
def perks_sync(*, member_id: int, cause: str = Cause.SCORE) -> PerkSync:
    """Open and close the member's ``PerkGrant`` rows to match their current score, account
    state and the active catalogue; notify each gain and loss (why), and push ``me.changed``.

    Idempotent: a second call changes nothing. ``cause`` only words the losses. The member's row
    lock serialises syncs of one member (the partial unique constraint backs it up)."""
    member = locks.member_lock(member_id)
    eligible_ok = member.is_active and not member.is_frozen and member.score is not None
    perks = {p.pk: p for p in active_perks()}
    wanted = {pk for pk, p in perks.items() if eligible_ok and member.score is not None and member.score >= p.min_score}
    open_grants = list(PerkGrant.objects.filter(member_id=member_id, revoked_at__isnull=True)
                       .select_related("perk").order_by("perk__min_score", "perk__name"))
    have = {g.perk_id for g in open_grants}
    now = timezone.now()
    link = reverse("perks")

    lost: list[str] = []
    for grant in open_grants:
        if grant.perk_id in wanted:
            continue
        reason = loss_text(perk=grant.perk, member=member, cause=cause)
        closed = PerkGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=reason[:REVOKE_REASON_LENGTH])
        if closed:  # else another sync closed it (and notified) first
            notify(member_id=member_id, kind=Notification.Kind.PERK, text=reason, link=link)
            lost.append(grant.perk.slug)

    gained: list[str] = []
    for pk in sorted(wanted - have, key=lambda pk: (perks[pk].min_score, perks[pk].name)):
        perk = perks[pk]
        try:
            with transaction.atomic():
                PerkGrant.objects.create(member_id=member_id, perk=perk, granted_at=now)
        except IntegrityError:
            continue  # perk_held_once: a concurrent sync granted it (and notifies)
        assert member.score is not None
        notify(member_id=member_id, kind=Notification.Kind.PERK, text=gain_text(perk=perk, score=member.score),
               link=link)
        gained.append(perk.slug)

    result = PerkSync(gained=tuple(gained), lost=tuple(lost))
    if result.changed:
        member_push(member_id=member_id, payload={"type": MessageType.ME_CHANGED, "what": ["perks"]})
    return result


def perk_members(*, perk: Perk) -> list[int]:
    """Members a change of ``perk`` may affect: its holders, and (if active) everyone at or
    above its threshold."""
    holders = Q(perk_grants__perk=perk, perk_grants__revoked_at__isnull=True)
    reaching = Q(score__gte=perk.min_score, is_active=True, is_frozen=False)
    condition = (holders | reaching) if perk.is_active else holders
    return sorted(set(User.objects.filter(condition).values_list("pk", flat=True)))


def perk_members_sync(*, perk_id: int) -> int:
    """Re-sync everyone a catalogue change of ``perk_id`` may affect, one transaction per member
    (a failure never undoes the others). Returns how
    many members' perks changed. A perk deleted meanwhile leaves nothing to do."""
    perk = Perk.objects.filter(pk=perk_id).first()
    if perk is None:
        return 0
    changed = 0
    for member_id in perk_members(perk=perk):
        changed += perks_sync(member_id=member_id, cause=Cause.CATALOGUE).changed
    return changed


def perk_changed(*, perk: Perk) -> None:
    """A perk was added, edited, deactivated or reactivated (the admin calls this inside its
    transaction): forget the cached thresholds and re-sync the affected members after commit."""
    thresholds_forget()
    enqueue_on_commit("leaderboards.gamification.tasks.perk_members_sync", perk.pk)


# --- triggers (asked for by the receivers of other parts' signals, in ``receivers``) ---------------


def perks_sync_many(*, member_ids: Iterable[int], cause: str = Cause.SCORE) -> int:
    """``perks_sync`` for each of these members (ascending id), each in its own transaction.
    A member whose sync fails is logged and skipped: the others are still synced (as with one
    task per member); a database that is down raises, so the task retries (syncs are
    idempotent). Returns how many members' perks changed."""
    changed = 0
    for member_id in sorted(set(member_ids)):
        try:
            changed += perks_sync(member_id=member_id, cause=cause).changed
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("perks of member %s not synced", member_id)
    return changed


def perks_sync_crossing_later(*, changes: Iterable[Mapping[str, Any]]) -> None:
    """Scores moved (``scoring.ledger.signals.ScoreMove`` dicts). Cheap: the moves that cross an
    active perk's threshold are picked in Python (the thresholds are one cached read per batch);
    ONE sync task is enqueued for those members, after commit (a task costs ≈ 1 ms of worker
    time before any work, DESIGN.md §11), none otherwise."""
    changes = list(changes)
    if not changes:
        return
    thresholds = perk_thresholds()
    crossing = sorted({change["member_id"] for change in changes
                       if crosses_threshold(change["old_score"], change["new_score"], thresholds)})
    if crossing:
        enqueue_on_commit("leaderboards.gamification.tasks.perks_sync_members", crossing, Cause.SCORE)


def perks_sync_member_later(*, member_id: int, cause: str) -> None:
    """Sync this member's perks in a task, enqueued after commit."""
    enqueue_on_commit("leaderboards.gamification.tasks.perks_sync_member", member_id, cause)


# --- a history loaded at once (the demo world) ------------------------------------------------------

#: Members per batch when perks are granted to histories loaded at once.
HISTORY_BATCH = 500


def perks_grant_history(*, member_ids: Sequence[int]) -> int:
    """Grant the perks these members' current scores hold, to those holding none yet (histories
    loaded at once, whose score changes were never announced: ``seed_demo``): a batch at a time,
    one INSERT and one ``notify_many``. Each grant, and its notification, is dated when the
    member's score last rose to the perk's line (the ledger), as the live sync would have made it.
    Members holding any open grant are left to ``perks_sync``. Returns how many were granted."""
    perks = list(active_perks())
    if not perks:
        return 0
    link = reverse("perks")
    granted = 0
    for chunk in chunks(sorted(member_ids), HISTORY_BATCH):
        holding = set(PerkGrant.objects.filter(member_id__in=chunk, revoked_at__isnull=True)
                      .values_list("member_id", flat=True))
        members: dict[int, int] = {pk: score for pk, score in User.objects.filter(
            pk__in=chunk, is_active=True, is_frozen=False, score__isnull=False).values_list("pk", "score")
            if pk not in holding and score is not None}
        rows: list[PerkGrant] = []
        texts: list[tuple[int, str]] = []
        for perk in perks:
            reaching = [pk for pk, score in members.items() if score >= perk.min_score]
            if not reaching:
                continue
            rose = (ScoreChange.objects.filter(member_id=OuterRef("pk"), new_score__gte=perk.min_score)
                    .exclude(old_score__gte=perk.min_score).order_by("-created_at", "-pk").values("created_at")[:1])
            since = dict(User.objects.filter(pk__in=reaching).order_by().annotate(at=Subquery(rose))
                         .values_list("pk", "at"))
            for pk in reaching:
                at = since.get(pk) or timezone.now()
                rows.append(PerkGrant(member_id=pk, perk=perk, granted_at=at))
                texts.append((pk, gain_text(perk=perk, score=members[pk])))
        with transaction.atomic():
            PerkGrant.objects.bulk_create(rows, batch_size=HISTORY_BATCH)
            notifications_dated(kind=Notification.Kind.PERK, link=link, items=[
                (row.member_id, text, row.granted_at) for row, (_, text) in zip(rows, texts, strict=True)])
        granted += len(rows)
    return granted
