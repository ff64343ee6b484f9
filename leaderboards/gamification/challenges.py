"""Challenges between friends (DESIGN.md §9): "who gains more points this week".

Reads, writes and the live push of one small feature live together here; the API (``api``)
and the pages (``views``) are thin on top.

The rules (the page explains them to members in these words):

* **Who.** A member challenges 1 to ``MAX_OPPONENTS`` of their current friends (not
  themself, no one twice); several opponents must also be friends with each other
  (``opponents_not_friends``), since each sees the others' points. Everyone taking part must
  be able to play (``can_play``): active, not frozen by a moderator, not in private mode (a
  member in private mode left the social game: their score is theirs alone, and standings would
  show how it moves), and scored — the members the boards may list. A username that is not
  a friend — a stranger, a member who blocked you or one who does not exist — answers the same
  ``not_friends``; a friend who cannot play answers ``opponent_unavailable`` (private mode
  already shows on the friends list; a freeze is told apart from it by nothing).
* **Spam.** A member takes part in at most ``MAX_LIVE_CHALLENGES`` open or running challenges
  they created or accepted (invitations they have not answered do not count, so nobody can
  fill someone else's quota).
* **Window.** ``ends_at`` is fixed when the challenge is created: the end of the current week
  (Monday 00:00 UTC, ``selectors.week_start`` + ``SEASON_LENGTH``), or of the next week when
  less than ``MIN_LENGTH`` (a day) is left. Points count from the first acceptance
  (``starts_at``, status ``active``) to ``ends_at``.
* **Fairness.** At that first acceptance every participant still in the game (the creator,
  those who accepted, those still invited) gets ``start_score`` = their score at that moment,
  so everyone is measured over the same window. An invitation can still be accepted for
  ``LATE_JOIN`` (a day) after the start — after that, joining when you already see your
  week's gains would be a free win, so it is refused.
* **Points** = score − ``start_score``, kept live on every score change; final points use the
  score ledger at ``ends_at`` (changes after the end never count, whenever the finish runs).
* **Result.** Standard competition ranking (1, 1, 3). Every participant sharing rank 1 wins
  (and gets the ``challenge_won`` badge) — unless everyone is tied, which is a draw with no
  winner. A challenge nobody accepted by ``ends_at``, or that everyone declined, is
  cancelled. The creator may cancel it while it is open (nobody accepted yet); once it runs,
  ``already_running``: a creator who is losing cannot take the winners' badge away.
* **Privacy** (DESIGN.md §2.5). A participant's points are shown to themself and to the
  participants who are their friends right now (a block ends a friendship); never while they
  are in private mode or frozen. Otherwise standings show their rank without points
  (``"points": null, "hidden": true``), and their live points stop moving while they cannot play.

Errors are ``ChallengeError`` (a ``DomainError``: the API answers ``{"code", "detail"}`` with
its status), with a ``ChallengeCode``; a challenge the member does not take part in raises
``ChallengeNotFound``, the kernel's ``NotFound``.

Concurrency (STYLE.md §6): writes lock member rows first (``config.kernel.locks``, ascending
id), then the challenge row (``_lock_challenge``): the one lock order. Beneath the locks,
answers and status moves are conditional updates whose row count decides who did it, so a
double accept notifies once even without the locks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Prefetch, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications.feed import notify
from accounts.notifications.models import Notification
from config.kernel import locks
from config.kernel.after_commit import call_on_commit
from config.kernel.errors import DomainError, ErrorCode, NotFound
from leaderboards.boards import selectors
from leaderboards.gamification import badges
from leaderboards.gamification.models import Challenge, ChallengeParticipant
from leaderboards.live import broadcast
from leaderboards.live.protocol import MessageType
from scoring.ledger.models import ScoreChange
from social.graph import selectors as social_selectors
from social.graph.models import Friendship

logger = logging.getLogger(__name__)

Status = Challenge.Status
Answer = ChallengeParticipant.Answer
LIVE = (Status.OPEN, Status.ACTIVE)

#: Friends one challenge may invite.
MAX_OPPONENTS = 5
#: Open or running challenges a member may have created or accepted at once.
MAX_LIVE_CHALLENGES = 10
#: A challenge created with less than this left in the week runs until the end of the next one.
MIN_LENGTH = timedelta(days=1)
#: How long after the start an invitation can still be accepted.
LATE_JOIN = timedelta(days=1)
#: Finished and cancelled challenges shown on the page / listed by the API.
PAST_SHOWN = 10
API_LIST_LIMIT = 100


# --- errors --------------------------------------------------------------------------------------


class ChallengeCode:
    """``code`` of the errors below (API bodies, form errors, tests)."""

    NOT_FOUND = ErrorCode.NOT_FOUND  # 404: not a challenge you take part in
    NO_OPPONENTS = "no_opponents"
    TOO_MANY_OPPONENTS = "too_many_opponents"
    DUPLICATE_OPPONENT = "duplicate_opponent"
    CANNOT_CHALLENGE_SELF = "cannot_challenge_self"
    NOT_FRIENDS = "not_friends"  # the same for a stranger, a block and an unknown username
    OPPONENTS_NOT_FRIENDS = "opponents_not_friends"  # two of several opponents are not friends
    OPPONENT_UNAVAILABLE = "opponent_unavailable"  # a friend who cannot play now
    NOT_ELIGIBLE = "not_eligible"  # you cannot play now (private mode, frozen, not scored)
    TOO_MANY_CHALLENGES = "too_many_challenges"
    ALREADY_ANSWERED = "already_answered"
    CHALLENGE_CLOSED = "challenge_closed"  # finished, cancelled, or too late to join
    NOT_CREATOR = "not_creator"
    ALREADY_RUNNING = "already_running"  # cancel: someone accepted, it can no longer be called off


class ChallengeError(DomainError):
    """A rule of challenges said no: ``code`` is a ``ChallengeCode``, ``status`` 400 unless said."""


class ChallengeNotFound(ChallengeError, NotFound):
    """Not a challenge the member takes part in: the same 404 as any unknown URL."""


def _not_friends(username: str) -> ChallengeError:
    return ChallengeError(f"You can only challenge your friends: {username} is not one.",
                          code=ChallengeCode.NOT_FRIENDS)


# --- rules ---------------------------------------------------------------------------------------


def window_end(moment: datetime) -> datetime:
    """When a challenge created at ``moment`` ends: the end of its week, or of the next week if
    less than ``MIN_LENGTH`` is left."""
    end = selectors.week_start(moment) + selectors.SEASON_LENGTH
    if end - moment < MIN_LENGTH:
        end += selectors.SEASON_LENGTH
    return end


def join_deadline(challenge: Challenge) -> datetime:
    """Until when an invitation to ``challenge`` can be accepted."""
    if challenge.status == Status.OPEN:
        return challenge.ends_at
    return min(challenge.starts_at + LATE_JOIN, challenge.ends_at)


def can_play(user: User) -> bool:
    """Whether ``user`` may take part: exactly when the boards may list them."""
    return selectors.is_listed(is_active=user.is_active, private_mode=user.private_mode, score=user.score,
                               is_frozen=user.is_frozen)


def shows_points(user: User) -> bool:
    """Whether ``user``'s challenge points may be shown to their friends (not private, not frozen)."""
    return bool(user.is_active and not user.is_frozen and not user.private_mode)


def _friends_among(member_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each of ``member_ids`` → their current friends among them (a block ends a friendship).
    One query."""
    out: dict[int, set[int]] = {pk: set() for pk in member_ids}
    pairs = Friendship.objects.active().filter(member_a_id__in=list(out), member_b_id__in=list(out))
    for a, b in pairs.values_list("member_a_id", "member_b_id"):
        out[a].add(b)
        out[b].add(a)
    return out


def _is_due(challenge: Challenge, now: datetime) -> bool:
    return challenge.status in LIVE and challenge.ends_at <= now


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    member_id: int
    username: str
    points: int
    rank: int
    is_winner: bool
    shows_points: bool = True  # see ``shows_points``; ``standings_dicts`` hides the points if not


def rank_points(rows: Iterable[tuple[int, str, int]]) -> list[Standing]:
    """``(member_id, username, points)`` → standings: most points first, standard competition
    ranking (1, 1, 3); equal points are listed by username. No winners (see ``_winners``)."""
    ordered = sorted(rows, key=lambda r: (-r[2], r[1]))
    out: list[Standing] = []
    for i, (member_id, username, points) in enumerate(ordered):
        rank = out[-1].rank if out and out[-1].points == points else i + 1
        out.append(Standing(member_id, username, points, rank, False))
    return out


def _winners(standings: Sequence[Standing]) -> set[int]:
    """Everyone at rank 1 — unless everyone is at rank 1: a draw, nobody wins."""
    leaders = {s.member_id for s in standings if s.rank == 1}
    return set() if len(leaders) == len(standings) else leaders


def _accepted(challenge: Challenge) -> list[ChallengeParticipant]:
    cache = getattr(challenge, "_prefetched_objects_cache", {}).get("participants")
    if cache is not None:
        return [p for p in cache if p.answer == Answer.ACCEPTED]
    return list(challenge.participants.filter(answer=Answer.ACCEPTED).select_related("member"))


def challenge_standings(*, challenge: Challenge) -> list[Standing]:
    """Who stands where among those who accepted (the creator included). Finished: the frozen
    final ranks and winners; otherwise the live points. One query (none when prefetched)."""
    accepted = _accepted(challenge)
    if challenge.status == Status.FINISHED:
        rows = [Standing(p.member_id, p.member.username, p.points, p.final_rank or 0, p.is_winner,
                         shows_points(p.member)) for p in accepted]
        return sorted(rows, key=lambda s: (s.rank, s.username))
    shown = {p.member_id: shows_points(p.member) for p in accepted}
    return [replace(s, shows_points=shown[s.member_id])
            for s in rank_points((p.member_id, p.member.username, p.points) for p in accepted)]


def _with_participants(qs: Any) -> Any:
    return qs.select_related("created_by").prefetch_related(
        Prefetch("participants", queryset=ChallengeParticipant.objects.select_related("member").order_by("id")))


def _finish_due_of(member_id: int, now: datetime) -> None:
    """Embedded mode has no beat: finish this member's due challenges when they are read."""
    due = Challenge.objects.filter(participants__member_id=member_id, status__in=LIVE, ends_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        challenge_finish(challenge_id=pk, now=now)


def challenge_for_member(*, member: User, challenge_id: int, now: datetime | None = None) -> Challenge:
    """A challenge ``member`` takes part in (whatever they answered), participants prefetched,
    finished first if it is due; ``ChallengeNotFound`` for anyone else."""
    now = now or timezone.now()
    qs = Challenge.objects.filter(pk=challenge_id, participants__member_id=member.pk)
    challenge = qs.first()
    if challenge is None:
        raise ChallengeNotFound()
    if _is_due(challenge, now):
        challenge_finish(challenge_id=challenge.pk, now=now)
    return _with_participants(Challenge.objects.filter(pk=challenge_id)).get()


def challenges_of(*, member: User, now: datetime | None = None, limit: int = API_LIST_LIMIT) -> list[Challenge]:
    """The challenges ``member`` takes part in, newest first, due ones finished first.
    Three queries when nothing is due."""
    now = now or timezone.now()
    _finish_due_of(member.pk, now)
    qs = Challenge.objects.filter(participants__member_id=member.pk).order_by("-created_at", "-id")
    return list(_with_participants(qs)[:limit])


def participant_of(challenge: Challenge, member_id: int) -> ChallengeParticipant | None:
    for p in challenge.participants.all():
        if p.member_id == member_id:
            return p
    return None


@dataclass(frozen=True)
class Board:
    """What a member's challenges page shows, by section."""

    incoming: list[Challenge]  # invitations waiting for their answer
    waiting: list[Challenge]  # open, they are in, waiting for answers
    active: list[Challenge]
    past: list[Challenge]  # finished or cancelled, newest first, at most PAST_SHOWN


def challenges_board(*, member: User, now: datetime | None = None) -> Board:
    now = now or timezone.now()
    incoming: list[Challenge] = []
    waiting: list[Challenge] = []
    active: list[Challenge] = []
    past: list[Challenge] = []
    for challenge in challenges_of(member=member, now=now):
        mine = participant_of(challenge, member.pk)
        if mine is None:
            continue
        if challenge.status in LIVE and mine.answer == Answer.INVITED:
            if now < join_deadline(challenge):
                incoming.append(challenge)
        elif challenge.status == Status.OPEN and mine.answer == Answer.ACCEPTED:
            waiting.append(challenge)
        elif challenge.status == Status.ACTIVE and mine.answer == Answer.ACCEPTED:
            active.append(challenge)
        elif challenge.status not in LIVE and mine.answer == Answer.ACCEPTED and len(past) < PAST_SHOWN:
            past.append(challenge)
    return Board(incoming, waiting, active, past)


def opponents_by_username(*, member: User, usernames: Sequence[str]) -> list[User]:
    """The members named, in order, for ``challenge_create``: each must be a current friend.
    A stranger, a block either way and an unknown username all raise the same ``not_friends``
    (so this tells nothing a friend request would not)."""
    _check_picked(usernames, me=member.username)
    found = {u.username: u for u in User.objects.filter(username__in=list(usernames))}
    _check_friends(member.pk, [(username, found.get(username)) for username in usernames])
    return [found[name] for name in usernames]


def challenge_candidates(*, member: User) -> list[str]:
    """Usernames of friends ``member`` may pick (scored and not private; frozen ones are refused
    by the service, which does not tell them apart)."""
    return [f.username for f in social_selectors.friends_of(member=member) if not f.private and f.score is not None]


# --- representations (API, pages, the live message) -------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def standings_dicts(standings: Sequence[Standing], *, viewer_id: int, friends: Collection[int]) -> list[dict[str, Any]]:
    """The standings as ``viewer_id`` sees them; ``friends``: the viewer's current friends.
    Someone else's points show only if they are a friend and ``shows_points``; otherwise
    ``points`` is None and ``hidden`` True (the rank stays, so the table still adds up)."""
    out = []
    for s in standings:
        hidden = s.member_id != viewer_id and (s.member_id not in friends or not s.shows_points)
        out.append({"username": s.username, "points": None if hidden else s.points, "hidden": hidden,
                    "rank": s.rank, "is_winner": s.is_winner, "is_me": s.member_id == viewer_id})
    return out


def result_for(challenge: Challenge, standings: Sequence[Standing], viewer_id: int) -> str | None:
    """The viewer's result of a finished challenge: "won", "lost" or "draw" (None otherwise)."""
    if challenge.status != Status.FINISHED:
        return None
    if not any(s.is_winner for s in standings):
        return "draw"
    return "won" if any(s.is_winner and s.member_id == viewer_id for s in standings) else "lost"


def challenge_dict(challenge: Challenge, *, viewer_id: int, friends: Collection[int] | None = None) -> dict[str, Any]:
    """A challenge as its participant ``viewer_id`` sees it (participants prefetched).
    ``friends``: the viewer's friend ids — pass them when rendering several challenges (one
    query, ``social.graph.selectors.friend_ids``); read here otherwise."""
    if friends is None:
        friends = social_selectors.friend_ids(member_id=viewer_id)
    participants = list(challenge.participants.all())
    mine = next((p for p in participants if p.member_id == viewer_id), None)
    standings = challenge_standings(challenge=challenge)
    return {
        "id": challenge.pk,
        "status": challenge.status,
        "created_by": challenge.created_by.username,
        "created_at": _iso(challenge.created_at),
        "starts_at": None if challenge.status == Status.OPEN else _iso(challenge.starts_at),
        "ends_at": _iso(challenge.ends_at),
        "join_until": _iso(join_deadline(challenge)) if challenge.status in LIVE else None,
        "finished_at": _iso(challenge.finished_at),
        "my_answer": mine.answer if mine else None,
        "participants": [{"username": p.member.username, "answer": p.answer} for p in participants],
        "standings": standings_dicts(standings, viewer_id=viewer_id, friends=friends),
        "result": result_for(challenge, standings, viewer_id),
    }


def standings_payload(challenge: Challenge, standings: Sequence[Standing], *, viewer_id: int,
                      friends: Collection[int]) -> dict[str, Any]:
    """The live ``challenge.standings`` message for one participant (``friends``: theirs)."""
    return {
        "type": MessageType.CHALLENGE_STANDINGS,
        "challenge": challenge.pk,
        "status": challenge.status,
        "ends_at": _iso(challenge.ends_at),
        "standings": standings_dicts(standings, viewer_id=viewer_id, friends=friends),
    }


def _push_standings(challenge_id: int) -> None:
    """Send the standings to every participant who accepted (after commit), each as they may
    see them. Three queries."""
    challenge = Challenge.objects.get(pk=challenge_id)
    standings = challenge_standings(challenge=challenge)
    friends = _friends_among(s.member_id for s in standings)
    for s in standings:
        broadcast.member_push(member_id=s.member_id, payload=standings_payload(
            challenge, standings, viewer_id=s.member_id, friends=friends[s.member_id]))


# --- writes --------------------------------------------------------------------------------------


def _lock_challenge(challenge_id: int) -> Challenge:
    try:
        return Challenge.objects.select_for_update().get(pk=challenge_id)
    except Challenge.DoesNotExist:
        raise ChallengeNotFound() from None


def _live_count(member_id: int) -> int:
    return ChallengeParticipant.objects.filter(member_id=member_id, answer=Answer.ACCEPTED,
                                               challenge__status__in=LIVE).count()


def _check_picked(picked: Sequence[str] | Sequence[int], *, me: str | int) -> None:
    """The opponents picked (usernames or ids; ``me``: the creator's): 1 to ``MAX_OPPONENTS``,
    each once, never the creator."""
    if len(picked) < 1:
        raise ChallengeError("Pick at least one friend to challenge.", code=ChallengeCode.NO_OPPONENTS)
    if len(picked) > MAX_OPPONENTS:
        raise ChallengeError(f"A challenge can have at most {MAX_OPPONENTS} friends.",
                             code=ChallengeCode.TOO_MANY_OPPONENTS)
    if len(set(picked)) != len(picked):
        raise ChallengeError("Each friend can be challenged once.", code=ChallengeCode.DUPLICATE_OPPONENT)
    if me in picked:
        raise ChallengeError("You cannot challenge yourself.", code=ChallengeCode.CANNOT_CHALLENGE_SELF)


def _check_friends(member_id: int, opponents: Sequence[tuple[str, User | None]]) -> None:
    """Each opponent (``(username, the member or None if there is none)``, in order) must be a
    current friend of ``member_id``; the first that is not raises ``not_friends``. An inactive
    member does not exist for others (as in social): not a friend either."""
    friends = social_selectors.friend_ids(member_id=member_id)
    for username, user in opponents:
        if user is None or user.pk not in friends or not user.is_active:
            raise _not_friends(username)


def _check_cap(member_id: int) -> None:
    if _live_count(member_id) >= MAX_LIVE_CHALLENGES:
        raise ChallengeError(f"You are already in {MAX_LIVE_CHALLENGES} open or running challenges: "
                             "finish or cancel one first.", code=ChallengeCode.TOO_MANY_CHALLENGES, status=409)


def _check_can_play(user: User) -> None:
    if not can_play(user):
        if user.private_mode:
            why = "you are in private mode"
        elif user.is_frozen:
            why = "your account is frozen"
        else:
            why = "you have no score yet"
        raise ChallengeError(f"You cannot take part in challenges: {why}.", code=ChallengeCode.NOT_ELIGIBLE)


def _link(challenge_id: int) -> str:
    return f"{reverse('challenges')}#challenge-{challenge_id}"


def _names(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _tell(member_id: int, challenge_id: int, text: str) -> None:
    notify(member_id=member_id, kind=Notification.Kind.CHALLENGE, text=text, link=_link(challenge_id))


@transaction.atomic
def challenge_create(*, by: User, opponents: list[User], now: datetime | None = None) -> Challenge:
    """``by`` challenges ``opponents`` (current friends, 1 to ``MAX_OPPONENTS``). The creator
    takes part (accepted); each opponent is invited and notified. ``ChallengeError`` otherwise."""
    now = now or timezone.now()
    ids = [o.pk for o in opponents]
    _check_picked(ids, me=by.pk)
    locks.member_ids_lock([by.pk, *ids])
    fresh = User.objects.in_bulk([by.pk, *ids])
    _check_can_play(fresh[by.pk])
    _check_friends(by.pk, [(opponent.username, fresh.get(opponent.pk)) for opponent in opponents])
    if len(ids) > 1:
        # Each participant sees the others' points: they must all be friends with each other.
        among = _friends_among(ids)
        if any(among[pk] != set(ids) - {pk} for pk in ids):
            raise ChallengeError("Friends you challenge together must also be friends with each other.",
                                 code=ChallengeCode.OPPONENTS_NOT_FRIENDS)
    for opponent in opponents:
        if not can_play(fresh[opponent.pk]):
            raise ChallengeError(f"{opponent.username} cannot take part in challenges right now.",
                                 code=ChallengeCode.OPPONENT_UNAVAILABLE)
    _check_cap(by.pk)
    challenge = Challenge.objects.create(created_by_id=by.pk, created_at=now, starts_at=now, ends_at=window_end(now))
    ChallengeParticipant.objects.bulk_create(
        [ChallengeParticipant(challenge=challenge, member_id=by.pk, answer=Answer.ACCEPTED, answered_at=now)]
        + [ChallengeParticipant(challenge=challenge, member_id=pk) for pk in ids])
    names = [fresh[pk].username for pk in ids]
    for opponent in opponents:
        others = [n for n in names if n != opponent.username]
        extra = f" (with {_names(others)})" if others else ""
        _tell(opponent.pk, challenge.pk,
              f"{by.username} challenged you{extra}: who gains more points by "
              f"{challenge.ends_at:%a %d %b %H:%M} UTC? Accept or decline.")
    return challenge


@transaction.atomic
def challenge_answer(*, challenge: Challenge, member: User, accept: bool, now: datetime | None = None) -> bool:
    """``member`` accepts or declines their invitation. Idempotent: answering the same way again
    changes nothing (returns False); the other way round raises ``already_answered``. The first
    acceptance starts the challenge (``start_score`` for everyone still in). Everyone declining
    cancels it."""
    now = now or timezone.now()
    locks.member_ids_lock([member.pk])
    locked = _lock_challenge(challenge.pk)
    mine = ChallengeParticipant.objects.filter(challenge=locked, member_id=member.pk).first()
    if mine is None:
        raise ChallengeNotFound()
    wanted = Answer.ACCEPTED if accept else Answer.DECLINED
    if mine.answer == wanted:
        return False
    if locked.created_by_id == member.pk:
        raise ChallengeError("You created this challenge: cancel it instead.", code=ChallengeCode.ALREADY_ANSWERED,
                             status=409)
    if mine.answer != Answer.INVITED:
        raise ChallengeError(f"You already {mine.answer} this challenge.", code=ChallengeCode.ALREADY_ANSWERED,
                             status=409)
    if locked.status not in LIVE or locked.ends_at <= now:
        raise ChallengeError("This challenge is over.", code=ChallengeCode.CHALLENGE_CLOSED, status=409)
    if accept:
        if now >= join_deadline(locked):
            raise ChallengeError("Too late to join: invitations close a day after the challenge starts.",
                                 code=ChallengeCode.CHALLENGE_CLOSED, status=409)
        _check_can_play(User.objects.get(pk=member.pk))
        _check_cap(member.pk)
    # The row count decides who answered: a concurrent double click does the rest once.
    if not ChallengeParticipant.objects.filter(pk=mine.pk, answer=Answer.INVITED).update(
            answer=wanted, answered_at=now):
        return False
    creator_id = locked.created_by_id
    if accept:
        started = Challenge.objects.filter(pk=locked.pk, status=Status.OPEN).update(status=Status.ACTIVE,
                                                                                   starts_at=now)
        if started:
            _start_scores(locked.pk)
        else:
            # Joining a running challenge: counted from its start like everyone else.
            score = User.objects.values_list("score", flat=True).get(pk=member.pk)
            ChallengeParticipant.objects.filter(pk=mine.pk, start_score__isnull=True).update(start_score=score)
            ChallengeParticipant.objects.filter(pk=mine.pk).update(points=score - F("start_score"))
        _tell(creator_id, locked.pk, f"{member.username} accepted your challenge"
              + (": it has started." if started else "."))
        call_on_commit(_push_standings, locked.pk)
        return True
    left = ChallengeParticipant.objects.filter(challenge=locked, answer__in=[Answer.INVITED, Answer.ACCEPTED]
                                               ).exclude(member_id=creator_id).exists()
    if not left and Challenge.objects.filter(pk=locked.pk, status=Status.OPEN).update(
            status=Status.CANCELLED, finished_at=now):
        _tell(creator_id, locked.pk, f"{member.username} declined your challenge; nobody is left, so it is cancelled.")
    else:
        _tell(creator_id, locked.pk, f"{member.username} declined your challenge.")
    return True


def _start_scores(challenge_id: int) -> None:
    """The challenge just started: everyone still in starts from their score now."""
    rows = ChallengeParticipant.objects.filter(challenge_id=challenge_id, answer__in=[Answer.INVITED, Answer.ACCEPTED])
    scores = dict(User.objects.filter(pk__in=rows.values("member_id")).values_list("pk", "score"))
    for participant in rows:
        start = scores.get(participant.member_id)
        if start is not None:
            ChallengeParticipant.objects.filter(pk=participant.pk).update(start_score=start, points=0)


@transaction.atomic
def challenge_cancel(*, challenge: Challenge, by: User, now: datetime | None = None) -> bool:
    """The creator calls the challenge off while it is open. Idempotent (False if it already
    was cancelled); ``already_running`` once someone accepted, ``challenge_closed`` once
    finished, ``not_creator`` for other participants."""
    now = now or timezone.now()
    locked = _lock_challenge(challenge.pk)
    if locked.created_by_id != by.pk:
        if ChallengeParticipant.objects.filter(challenge=locked, member_id=by.pk).exists():
            raise ChallengeError("Only the member who created a challenge can cancel it.",
                                 code=ChallengeCode.NOT_CREATOR, status=403)
        raise ChallengeNotFound()
    if locked.status == Status.CANCELLED:
        return False
    if locked.status == Status.FINISHED or locked.ends_at <= now:
        raise ChallengeError("This challenge is over: it can no longer be cancelled.",
                             code=ChallengeCode.CHALLENGE_CLOSED, status=409)
    if locked.status == Status.ACTIVE:
        raise ChallengeError("This challenge is running: it can no longer be cancelled.",
                             code=ChallengeCode.ALREADY_RUNNING, status=409)
    if not Challenge.objects.filter(pk=locked.pk, status=Status.OPEN).update(status=Status.CANCELLED, finished_at=now):
        return False
    told = ChallengeParticipant.objects.filter(challenge=locked, answer__in=[Answer.INVITED, Answer.ACCEPTED]
                                               ).exclude(member_id=by.pk).values_list("member_id", flat=True)
    for member_id in told:
        _tell(member_id, locked.pk, f"{by.username} cancelled the challenge.")
    call_on_commit(_push_standings, locked.pk)
    return True


def challenges_finish_due(*, now: datetime | None = None) -> int:
    """Periodic: finish every challenge whose ``ends_at`` passed (one transaction each).
    Returns how many it finished or cancelled."""
    now = now or timezone.now()
    due = Challenge.objects.filter(status__in=LIVE, ends_at__lte=now).order_by("ends_at", "pk")
    return sum(challenge_finish(challenge_id=pk, now=now) for pk in list(due.values_list("pk", flat=True)))


def _scores_at(member_ids: Sequence[int], moment: datetime) -> dict[int, int]:
    """Each member's score just before ``moment``, from the score ledger (the truth): their last
    row before it, else the ``old_score`` of their first row from it on; the current score only
    for a member without ledger rows at all."""
    out: dict[int, int] = {}
    missing: list[int] = []
    for member_id in member_ids:
        rows = ScoreChange.objects.filter(member_id=member_id)
        before = rows.filter(created_at__lt=moment).order_by("-created_at", "-id").values_list("new_score", "pk")
        after = rows.filter(created_at__gte=moment).order_by("created_at", "id").values_list("old_score", "pk")
        row = before.first() or after.first()  # changes after ``moment`` never count
        if row is None:
            missing.append(member_id)
        elif row[0] is not None:
            out[member_id] = row[0]
    if missing:
        out.update({pk: s for pk, s in User.objects.filter(pk__in=missing).values_list("pk", "score") if s is not None})
    return out


@transaction.atomic
def challenge_finish(*, challenge_id: int, now: datetime | None = None) -> int:
    """Finish one due challenge: final points at ``ends_at``, ranks, winners, their badges and
    everyone's notification; a challenge nobody accepted is cancelled instead. Idempotent:
    returns 0 if it is not due or was already done."""
    now = now or timezone.now()
    locked = _lock_challenge(challenge_id)
    if not _is_due(locked, now):
        return 0
    if locked.status == Status.OPEN:
        if not Challenge.objects.filter(pk=locked.pk, status=Status.OPEN).update(status=Status.CANCELLED,
                                                                                 finished_at=now):
            return 0
        _tell(locked.created_by_id, locked.pk, "Nobody accepted your challenge in time, so it is cancelled.")
        return 1
    if not Challenge.objects.filter(pk=locked.pk, status=Status.ACTIVE).update(status=Status.FINISHED,
                                                                               finished_at=now):
        return 0
    accepted = list(ChallengeParticipant.objects.filter(challenge=locked, answer=Answer.ACCEPTED)
                    .select_related("member").order_by("id"))
    ends = _scores_at([p.member_id for p in accepted], locked.ends_at)
    for p in accepted:
        end = ends.get(p.member_id)
        p.points = end - p.start_score if end is not None and p.start_score is not None else p.points
    standings = rank_points((p.member_id, p.member.username, p.points) for p in accepted)
    winners = _winners(standings)
    by_member = {s.member_id: s for s in standings}
    for p in accepted:
        p.final_rank = by_member[p.member_id].rank
        p.is_winner = p.member_id in winners
    ChallengeParticipant.objects.bulk_update(accepted, ["points", "final_rank", "is_winner"])
    shown = {p.member_id: shows_points(p.member) for p in accepted}
    final = [Standing(s.member_id, s.username, s.points, s.rank, s.member_id in winners, shown[s.member_id])
             for s in standings]
    locked.status, locked.finished_at = Status.FINISHED, now
    _announce_result(locked, final, [p for p in accepted if p.is_winner], now)
    call_on_commit(_push_standings, challenge_id)
    return 1


def _announce_result(challenge: Challenge, standings: Sequence[Standing], won: Sequence[ChallengeParticipant],
                     now: datetime) -> None:
    winners = [s for s in standings if s.is_winner]
    everyone = sorted(s.username for s in standings)
    friends = _friends_among(s.member_id for s in standings)
    for s in standings:
        others = _names([n for n in everyone if n != s.username])
        if not winners:
            text = f"Your challenge with {others} ended in a draw: everyone gained {s.points:+d} points."
        elif s.is_winner:
            co = [w.username for w in winners if w.member_id != s.member_id]
            tied = f", tied with {_names(co)}," if co else ""
            text = f"You won the challenge against {others}{tied} with {s.points:+d} points!"
        else:
            names = _names([w.username for w in winners])
            verb = "won" if len(winners) == 1 else "won, tied,"
            # The winners' points only for a loser who may see them (as in the standings).
            seen = all(w.member_id in friends[s.member_id] and w.shows_points for w in winners)
            how = f" with {winners[0].points:+d} points" if seen else ""
            text = f"{names} {verb} the challenge{how}; you gained {s.points:+d} (rank {s.rank})."
        _tell(s.member_id, challenge.pk, text)
    for p in won:
        p.challenge = challenge
        badges.badge_award(member_id=p.member_id, badge=badges.CHALLENGE_WON, tier="",
                           key=badges.challenge_key(challenge.pk),
                           explanation=badges.challenge_won_explanation(p), at=now)


# --- live points -----------------------------------------------------------------------------------


def challenge_members_score_changed(*, member_ids: Iterable[int], now: datetime | None = None) -> int:
    """Members' scores moved (``scoring.ledger.signals.scores_changed``, after commit): bring their
    points in running challenges up to date and push the standings of each challenge concerned
    once to every participant. Nothing for a member who cannot play (``can_play``: private mode,
    frozen).

    One indexed query (``member_id``) for a batch of members in no running challenge. The
    scores are read back from the database, so late or reordered signals converge; the update
    skips rows the finish already froze (``final_rank`` set), re-checked on the row itself.
    """
    now = now or timezone.now()
    rows = list(ChallengeParticipant.objects.filter(
        member_id__in=sorted(set(member_ids)), answer=Answer.ACCEPTED, start_score__isnull=False,
        challenge__status=Status.ACTIVE, challenge__ends_at__gt=now).values_list("pk", "member_id", "challenge_id"))
    if not rows:
        return 0
    users = User.objects.filter(pk__in={m for _, m, _ in rows}).only("is_active", "is_frozen", "private_mode", "score")
    # Private mode or frozen: their points stop moving (and others see none).
    scores = {u.pk: u.score for u in users if can_play(u)}
    playing = [(pk, member_id, challenge_id) for pk, member_id, challenge_id in rows if member_id in scores]
    if not playing:
        return 0
    new_points = Case(*(When(pk=pk, then=Value(scores[member_id])) for pk, member_id, _ in playing),
                      output_field=IntegerField()) - F("start_score")
    updated = ChallengeParticipant.objects.filter(
        Q(final_rank__isnull=True), pk__in=[pk for pk, _, _ in playing]).update(points=new_points)
    for challenge_id in sorted({c for _, _, c in playing}):
        _push_standings(challenge_id)
    return updated
