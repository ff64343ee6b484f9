"""Challenges between friends: rules, lifecycle, ties, caps, the API, the pages, the task.

The cast: alice is friends with bob, dave and erin; bob and dave are friends too (so alice can
challenge them together); carol is bob's friend only; mallory is a stranger. The clock stands
on Wednesday 25 Nov 2026 12:00 UTC (the week ends Monday 30 Nov).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from accounts.members.models import User
from accounts.notifications.models import Notification
from leaderboards.gamification import challenges
from leaderboards.gamification.challenges import ChallengeCode, ChallengeError
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model.factors import FACTOR_NAMES
from social.graph import services as social_services
from tests.factories import UserFactory
from tests.leaderboards.conftest import befriend, member, scored

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
WEEK_END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cast(clock):  # type: ignore[no-untyped-def]
    people = {
        "alice": member("alice", 700), "bob": member("bob", 650), "carol": member("carol", 600),
        "dave": member("dave", 640), "erin": member("erin", 610), "mallory": member("mallory", 500),
    }
    for friend in ("bob", "dave", "erin"):
        befriend(people["alice"], people[friend], at=T0 - timedelta(days=30))
    befriend(people["bob"], people["carol"], at=T0 - timedelta(days=30))
    befriend(people["bob"], people["dave"], at=T0 - timedelta(days=30))
    return people


def feed(user: User) -> list[str]:
    return list(Notification.objects.filter(member=user, kind=Notification.Kind.CHALLENGE)
                .order_by("id").values_list("text", flat=True))


def rows(challenge: Challenge) -> list[tuple[str, str, int | None, int, int | None, bool]]:
    return [(p.member.username, p.answer, p.start_score, p.points, p.final_rank, p.is_winner)
            for p in ChallengeParticipant.objects.filter(challenge=challenge).select_related("member").order_by("id")]


def create(by: User, *names: str) -> Challenge:
    opponents = challenges.opponents_by_username(member=by, usernames=list(names))
    return challenges.challenge_create(by=by, opponents=opponents)


def error_of(call) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ChallengeError) as info:
        call()
    return info.value.code, info.value.detail, info.value.status


# --- the window ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("created", "ends"), [
    (T0, WEEK_END),  # Wednesday: the end of this week
    (datetime(2026, 11, 29, 0, 0, tzinfo=UTC), WEEK_END),  # exactly a day left: still this week
    (datetime(2026, 11, 29, 0, 1, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)),  # less: the next
    (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)),  # Monday 00:00
])
def test_the_window_ends_on_monday_or_a_week_later_with_less_than_a_day_left(created, ends):
    assert challenges.window_end(created) == ends


# --- lifecycle -------------------------------------------------------------------------------------


def test_lifecycle_create_accept_live_points_late_join_and_finish_with_a_winner(cast, clock):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    assert (challenge.status, challenge.ends_at) == ("open", WEEK_END)
    assert rows(challenge) == [("alice", "accepted", None, 0, None, False), ("bob", "invited", None, 0, None, False),
                               ("dave", "invited", None, 0, None, False)]
    assert feed(bob) == ["alice challenged you (with dave): who gains more points by Mon 30 Nov 00:00 UTC? "
                         "Accept or decline."]
    assert feed(dave) == ["alice challenged you (with bob): who gains more points by Mon 30 Nov 00:00 UTC? "
                          "Accept or decline."]

    clock.shift(timedelta(hours=1))
    assert challenges.challenge_answer(challenge=challenge, member=bob, accept=True) is True
    challenge.refresh_from_db()
    assert (challenge.status, challenge.starts_at) == ("active", T0 + timedelta(hours=1))
    # Everyone still in starts from their score at the first acceptance, dave (invited) too.
    assert rows(challenge) == [("alice", "accepted", 700, 0, None, False), ("bob", "accepted", 650, 0, None, False),
                               ("dave", "invited", 640, 0, None, False)]
    assert feed(alice) == ["bob accepted your challenge: it has started."]

    scored(bob, 662)
    scored(alice, 705)
    scored(dave, 650)  # counts for dave, who joins later
    assert rows(challenge) == [("alice", "accepted", 700, 5, None, False), ("bob", "accepted", 650, 12, None, False),
                               ("dave", "invited", 640, 0, None, False)]

    clock.shift(timedelta(hours=20))  # within a day of the start: dave may still join
    assert challenges.challenge_answer(challenge=challenge, member=dave, accept=True) is True
    assert rows(challenge)[2] == ("dave", "accepted", 640, 10, None, False)
    assert feed(alice)[-1] == "dave accepted your challenge."
    assert [(s.username, s.points, s.rank) for s in challenges.challenge_standings(challenge=challenge)] == [
        ("bob", 12, 1), ("dave", 10, 2), ("alice", 5, 3)]

    # A change after the end is never counted, whenever the finish runs.
    scored(alice, 800, at=WEEK_END + timedelta(seconds=10))
    assert challenges.challenges_finish_due(now=WEEK_END - timedelta(seconds=1)) == 0
    assert challenges.challenges_finish_due(now=WEEK_END + timedelta(minutes=1)) == 1
    assert challenges.challenges_finish_due(now=WEEK_END + timedelta(minutes=2)) == 0  # idempotent
    challenge.refresh_from_db()
    assert (challenge.status, challenge.finished_at) == ("finished", WEEK_END + timedelta(minutes=1))
    assert rows(challenge) == [("alice", "accepted", 700, 5, 3, False), ("bob", "accepted", 650, 12, 1, True),
                               ("dave", "accepted", 640, 10, 2, False)]
    assert feed(bob)[-1] == "You won the challenge against alice and dave with +12 points!"
    assert feed(alice)[-1] == "bob won the challenge with +12 points; you gained +5 (rank 3)."
    assert feed(dave)[-1] == "bob won the challenge with +12 points; you gained +10 (rank 2)."
    assert list(BadgeAward.objects.filter(badge="challenge_won").values_list("member__username", "key")) == [
        ("bob", f"challenge:{challenge.pk}")]


def test_ties_rank_1_1_3_and_both_leaders_win(cast):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    challenges.challenge_answer(challenge=challenge, member=dave, accept=True)
    scored(alice, 710)
    scored(bob, 660)
    scored(dave, 643)
    challenges.challenges_finish_due(now=WEEK_END)
    assert rows(challenge) == [("alice", "accepted", 700, 10, 1, True), ("bob", "accepted", 650, 10, 1, True),
                               ("dave", "accepted", 640, 3, 3, False)]
    assert feed(alice)[-1] == "You won the challenge against bob and dave, tied with bob, with +10 points!"
    assert feed(dave)[-1] == "alice and bob won, tied, the challenge with +10 points; you gained +3 (rank 3)."
    assert sorted(BadgeAward.objects.filter(badge="challenge_won").values_list("member__username", flat=True)) == [
        "alice", "bob"]


def test_everyone_tied_is_a_draw_without_winner(cast):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    scored(alice, 704)
    scored(bob, 654)
    challenges.challenges_finish_due(now=WEEK_END)
    assert rows(challenge) == [("alice", "accepted", 700, 4, 1, False), ("bob", "accepted", 650, 4, 1, False)]
    assert feed(alice)[-1] == "Your challenge with bob ended in a draw: everyone gained +4 points."
    assert not BadgeAward.objects.filter(badge="challenge_won").exists()
    me = challenges.challenge_for_member(member=alice, challenge_id=challenge.pk)
    assert challenges.challenge_dict(me, viewer_id=alice.pk)["result"] == "draw"


def test_nobody_accepts_in_time_cancels_it(cast):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    assert challenges.challenges_finish_due(now=WEEK_END) == 1
    challenge.refresh_from_db()
    assert (challenge.status, challenge.finished_at) == ("cancelled", WEEK_END)
    assert feed(alice) == ["Nobody accepted your challenge in time, so it is cancelled."]
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=bob, accept=True)) == (
        "challenge_closed", "This challenge is over.", 409)


def test_declined_by_everyone_is_cancelled_at_once(cast):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    assert challenges.challenge_answer(challenge=challenge, member=bob, accept=False) is True
    challenge.refresh_from_db()
    assert challenge.status == "open"
    assert challenges.challenge_answer(challenge=challenge, member=dave, accept=False) is True
    challenge.refresh_from_db()
    assert (challenge.status, challenge.finished_at) == ("cancelled", T0)
    assert feed(alice) == ["bob declined your challenge.",
                           "dave declined your challenge; nobody is left, so it is cancelled."]


def test_a_decline_beside_an_acceptance_keeps_it_running(cast):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=False)
    challenges.challenge_answer(challenge=challenge, member=dave, accept=True)
    challenge.refresh_from_db()
    assert challenge.status == "active"
    assert rows(challenge) == [("alice", "accepted", 700, 0, None, False), ("bob", "declined", None, 0, None, False),
                               ("dave", "accepted", 640, 0, None, False)]


def test_answers_are_idempotent_and_final(cast):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    assert challenges.challenge_answer(challenge=challenge, member=bob, accept=True) is True
    assert challenges.challenge_answer(challenge=challenge, member=bob, accept=True) is False
    assert feed(alice) == ["bob accepted your challenge: it has started."]
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=bob, accept=False)) == (
        "already_answered", "You already accepted this challenge.", 409)
    challenges.challenge_answer(challenge=challenge, member=dave, accept=False)
    assert challenges.challenge_answer(challenge=challenge, member=dave, accept=False) is False
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=dave, accept=True))[0] == (
        "already_answered")
    assert challenges.challenge_answer(challenge=challenge, member=alice, accept=True) is False
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=alice, accept=False)) == (
        "already_answered", "You created this challenge: cancel it instead.", 409)
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=cast["mallory"], accept=True)
                    ) == ("not_found", "Not found.", 404)


def test_joining_more_than_a_day_after_the_start_is_refused(cast, clock):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    clock.shift(timedelta(days=1))
    assert error_of(lambda: challenges.challenge_answer(challenge=challenge, member=dave, accept=True)) == (
        "challenge_closed", "Too late to join: invitations close a day after the challenge starts.", 409)
    assert [c.pk for c in challenges.challenges_board(member=dave).incoming] == []


def test_the_creator_cancels_while_it_is_open(cast):
    alice, bob, dave = cast["alice"], cast["bob"], cast["dave"]
    challenge = create(alice, "bob", "dave")
    assert error_of(lambda: challenges.challenge_cancel(challenge=challenge, by=bob)) == (
        "not_creator", "Only the member who created a challenge can cancel it.", 403)
    assert error_of(lambda: challenges.challenge_cancel(challenge=challenge, by=cast["mallory"]))[0] == "not_found"
    assert challenges.challenge_cancel(challenge=challenge, by=alice) is True
    assert challenges.challenge_cancel(challenge=challenge, by=alice) is False
    challenge.refresh_from_db()
    assert (challenge.status, challenge.finished_at) == ("cancelled", T0)
    assert feed(bob)[-1] == feed(dave)[-1] == "alice cancelled the challenge."
    assert challenges.challenges_finish_due(now=WEEK_END) == 0


def test_a_running_challenge_cannot_be_cancelled(cast):
    """Else a creator who is losing could take the winner's badge away."""
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    scored(bob, 700)
    assert error_of(lambda: challenges.challenge_cancel(challenge=challenge, by=alice)) == (
        "already_running", "This challenge is running: it can no longer be cancelled.", 409)
    challenge.refresh_from_db()
    assert (challenge.status, challenge.finished_at) == ("active", None)
    assert feed(bob) == ["alice challenged you: who gains more points by Mon 30 Nov 00:00 UTC? Accept or decline."]
    assert challenges.challenges_finish_due(now=WEEK_END) == 1
    assert rows(challenge) == [("alice", "accepted", 700, 0, 2, False), ("bob", "accepted", 650, 50, 1, True)]


def test_a_finished_challenge_cannot_be_cancelled(cast):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    challenges.challenges_finish_due(now=WEEK_END)
    assert error_of(lambda: challenges.challenge_cancel(challenge=challenge, by=alice)) == (
        "challenge_closed", "This challenge is over: it can no longer be cancelled.", 409)


# --- who may be challenged -------------------------------------------------------------------------


def test_only_current_friends_and_the_same_answer_for_any_non_friend(cast):
    alice = cast["alice"]
    expected = ("not_friends", "You can only challenge your friends: {} is not one.", 400)
    for name in ("carol", "mallory", "nobody-by-that-name"):  # friend of a friend, stranger, unknown
        code, detail, status = error_of(lambda name=name: create(alice, name))
        assert (code, detail, status) == (expected[0], expected[1].format(name), 400)
    social_services.block_create(blocker=cast["dave"], username="alice")  # ends the friendship
    assert error_of(lambda: create(alice, "dave"))[:2] == ("not_friends", expected[1].format("dave"))
    # The service checks again under its locks, whatever User objects it is given.
    assert error_of(lambda: challenges.challenge_create(by=alice, opponents=[cast["mallory"]]))[0] == "not_friends"
    assert not Challenge.objects.exists()


def test_shape_of_the_opponents(cast):
    alice = cast["alice"]
    assert error_of(lambda: create(alice)) == ("no_opponents", "Pick at least one friend to challenge.", 400)
    assert error_of(lambda: create(alice, "bob", "bob")) == (
        "duplicate_opponent", "Each friend can be challenged once.", 400)
    assert error_of(lambda: create(alice, "alice")) == ("cannot_challenge_self", "You cannot challenge yourself.", 400)
    assert error_of(lambda: challenges.challenge_create(by=alice, opponents=[alice]))[0] == "cannot_challenge_self"
    assert error_of(lambda: create(alice, *[f"f{i}" for i in range(6)])) == (
        "too_many_opponents", "A challenge can have at most 5 friends.", 400)


@pytest.mark.parametrize("state", [{"private_mode": True}, {"is_frozen": True}, {"score": None}])
def test_a_friend_who_cannot_play_is_unavailable(cast, state):
    User.objects.filter(username="bob").update(**state)
    assert error_of(lambda: create(cast["alice"], "bob")) == (
        "opponent_unavailable", "bob cannot take part in challenges right now.", 400)


def test_a_member_in_private_mode_cannot_challenge(cast):
    User.objects.filter(username="alice").update(private_mode=True)
    cast["alice"].refresh_from_db()
    assert error_of(lambda: create(cast["alice"], "bob")) == (
        "not_eligible", "You cannot take part in challenges: you are in private mode.", 400)


def test_cap_on_open_and_running_challenges(cast, monkeypatch):
    alice, bob = cast["alice"], cast["bob"]
    for _ in range(challenges.MAX_LIVE_CHALLENGES):
        create(alice, "bob")
    assert error_of(lambda: create(alice, "bob")) == (
        "too_many_challenges",
        "You are already in 10 open or running challenges: finish or cancel one first.", 409)
    # Invitations bob has not answered do not count against him; accepting does.
    monkeypatch.setattr(challenges, "MAX_LIVE_CHALLENGES", 2)
    first, second = Challenge.objects.order_by("id")[:2]
    challenges.challenge_answer(challenge=first, member=bob, accept=True)
    own = create(bob, "alice")  # open: counts for its creator
    third = second
    assert error_of(lambda: challenges.challenge_answer(challenge=third, member=bob, accept=True))[0] == (
        "too_many_challenges")
    challenges.challenge_cancel(challenge=own, by=bob)  # a cancelled one frees a place
    assert challenges.challenge_answer(challenge=third, member=bob, accept=True) is True


def test_opponents_challenged_together_must_be_friends_with_each_other(cast, api_as):
    alice = cast["alice"]
    expected = ("opponents_not_friends", "Friends you challenge together must also be friends with each other.", 400)
    assert error_of(lambda: create(alice, "bob", "erin")) == expected  # bob and erin are not friends
    assert error_of(lambda: create(alice, "bob", "dave", "erin")) == expected
    social_services.friendship_unfriend(member=cast["dave"], username="bob")
    assert error_of(lambda: create(alice, "bob", "dave")) == expected
    response = api_as(alice).post("/api/v1/challenges/", {"opponents": ["dave", "erin"]}, format="json")
    assert (response.status_code, response.json()) == (400, {"code": expected[0], "detail": expected[1]})
    assert not Challenge.objects.exists()
    assert create(alice, "erin").status == "open"  # one opponent: only alice's friendship counts


# --- who sees whose points (DESIGN.md §2.5) ----------------------------------------------------------


def _running_three(cast) -> Challenge:  # type: ignore[no-untyped-def]
    """alice challenged bob and dave, both accepted; then alice +5, bob +12, dave +10."""
    challenge = create(cast["alice"], "bob", "dave")
    challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True)
    challenges.challenge_answer(challenge=challenge, member=cast["dave"], accept=True)
    scored(cast["alice"], 705)
    scored(cast["bob"], 662)
    scored(cast["dave"], 650)
    return challenge


def _seen_by(user: User, challenge: Challenge) -> list[tuple[str, int | None, bool, int]]:
    shown = challenges.challenge_dict(challenges.challenge_for_member(member=user, challenge_id=challenge.pk),
                                      viewer_id=user.pk)
    return [(s["username"], s["points"], s["hidden"], s["rank"]) for s in shown["standings"]]


def test_points_show_only_to_current_friends(cast):
    challenge = _running_three(cast)
    everything = [("bob", 12, False, 1), ("dave", 10, False, 2), ("alice", 5, False, 3)]
    assert _seen_by(cast["bob"], challenge) == everything
    social_services.friendship_unfriend(member=cast["dave"], username="bob")
    assert _seen_by(cast["bob"], challenge) == [("bob", 12, False, 1), ("dave", None, True, 2), ("alice", 5, False, 3)]
    assert _seen_by(cast["dave"], challenge) == [("bob", None, True, 1), ("dave", 10, False, 2), ("alice", 5, False, 3)]
    assert _seen_by(cast["alice"], challenge) == everything
    social_services.block_create(blocker=cast["alice"], username="dave")
    assert _seen_by(cast["alice"], challenge) == [
        ("bob", 12, False, 1), ("dave", None, True, 2), ("alice", 5, False, 3)]


@pytest.mark.parametrize("state", [{"private_mode": True}, {"is_frozen": True}])
def test_points_of_a_member_in_private_mode_or_frozen_are_hidden_and_stop(cast, state, monkeypatch):
    challenge = _running_three(cast)
    User.objects.filter(username="dave").update(**state)
    assert _seen_by(cast["alice"], challenge) == [
        ("bob", 12, False, 1), ("dave", None, True, 2), ("alice", 5, False, 3)]
    assert _seen_by(cast["dave"], challenge) == [("bob", 12, False, 1), ("dave", 10, False, 2), ("alice", 5, False, 3)]
    pushed: list[int] = []
    monkeypatch.setattr(challenges.broadcast, "member_push", lambda *, member_id, payload: pushed.append(member_id))
    scored(cast["dave"], 700)
    assert (pushed, rows(challenge)[2]) == ([], ("dave", "accepted", 640, 10, None, False))
    page = _web(cast["alice"]).get("/challenges/").content.decode()
    assert '<span class="ch-points num"><span class="hint">hidden</span></span>' in page
    assert '<span class="ch-points num">+12</span>' in page


def test_the_pushed_standings_are_per_viewer(cast, monkeypatch):
    _running_three(cast)
    social_services.friendship_unfriend(member=cast["dave"], username="bob")
    pushed: dict[int, list] = {}
    monkeypatch.setattr(challenges.broadcast, "member_push", lambda *, member_id, payload: pushed.__setitem__(
        member_id, [(s["username"], s["points"], s["hidden"]) for s in payload["standings"]]))
    scored(cast["alice"], 706)
    assert pushed == {
        cast["bob"].pk: [("bob", 12, False), ("dave", None, True), ("alice", 6, False)],
        cast["dave"].pk: [("bob", None, True), ("dave", 10, False), ("alice", 6, False)],
        cast["alice"].pk: [("bob", 12, False), ("dave", 10, False), ("alice", 6, False)],
    }


def test_a_loser_who_is_no_longer_friends_with_the_winner_is_not_told_their_points(cast):
    challenge = _running_three(cast)
    social_services.friendship_unfriend(member=cast["dave"], username="bob")
    challenges.challenges_finish_due(now=WEEK_END)
    assert feed(cast["dave"])[-1] == "bob won the challenge; you gained +10 (rank 2)."
    assert feed(cast["alice"])[-1] == "bob won the challenge with +12 points; you gained +5 (rank 3)."
    assert _seen_by(cast["dave"], challenge) == [("bob", None, True, 1), ("dave", 10, False, 2), ("alice", 5, False, 3)]


def test_the_friend_set_is_read_once_per_list(cast, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = api_as(cast["alice"])
    create(cast["alice"], "bob")
    with CaptureQueriesContext(connection) as one:
        assert len(alice.get("/api/v1/challenges/").json()) == 1
    create(cast["alice"], "dave")
    create(cast["alice"], "bob", "dave")
    with CaptureQueriesContext(connection) as three:
        assert len(alice.get("/api/v1/challenges/").json()) == 3
    assert len(three) == len(one)


# --- live points ------------------------------------------------------------------------------------


def test_a_member_in_no_challenge_costs_one_query(cast, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert challenges.challenge_members_score_changed(member_ids=[cast["mallory"].pk]) == 0


def test_score_changes_push_standings_to_every_participant(cast, monkeypatch):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob", "dave")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    pushed: list[tuple[int, dict]] = []
    monkeypatch.setattr(challenges.broadcast, "member_push",
                        lambda *, member_id, payload: pushed.append((member_id, payload)))
    scored(bob, 655)
    ends = WEEK_END.isoformat()
    standings = [{"username": "bob", "points": 5, "hidden": False, "rank": 1, "is_winner": False},
                 {"username": "alice", "points": 0, "hidden": False, "rank": 2, "is_winner": False}]
    assert pushed == [  # dave has not accepted: nothing for him
        (bob.pk, {"type": "challenge.standings", "challenge": challenge.pk, "status": "active", "ends_at": ends,
                  "standings": [{**standings[0], "is_me": True}, {**standings[1], "is_me": False}]}),
        (alice.pk, {"type": "challenge.standings", "challenge": challenge.pk, "status": "active", "ends_at": ends,
                    "standings": [{**standings[0], "is_me": False}, {**standings[1], "is_me": True}]}),
    ]


# --- reads finish due challenges (embedded mode has no beat) ---------------------------------------------


def test_final_points_without_a_ledger_row_before_the_end_ignore_later_changes(cast):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    scored(bob, 655)
    ScoreChange.objects.filter(member=bob).delete()  # no ledger row before ``ends_at``
    scored(bob, 900, at=WEEK_END + timedelta(seconds=10))  # old_score 655: bob's score at the end
    assert challenges.challenges_finish_due(now=WEEK_END + timedelta(minutes=1)) == 1
    assert rows(challenge) == [("alice", "accepted", 700, 0, 2, False), ("bob", "accepted", 650, 5, 1, True)]


def test_final_points_without_any_ledger_row_use_the_current_score(cast):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    ScoreChange.objects.filter(member=bob).delete()
    User.objects.filter(pk=bob.pk).update(score=658)
    assert challenges.challenges_finish_due(now=WEEK_END) == 1
    assert rows(challenge) == [("alice", "accepted", 700, 0, 2, False), ("bob", "accepted", 650, 8, 1, True)]


def test_reading_a_due_challenge_finishes_it(cast, clock, api_as):
    alice, bob = cast["alice"], cast["bob"]
    challenge = create(alice, "bob")
    challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
    scored(bob, 651)
    clock.move_to(WEEK_END + timedelta(seconds=5))
    body = api_as(alice).get(f"/api/v1/challenges/{challenge.pk}/").json()
    assert (body["status"], body["result"], body["finished_at"]) == (
        "finished", "lost", (WEEK_END + timedelta(seconds=5)).isoformat())
    assert body["standings"] == [
        {"username": "bob", "points": 1, "hidden": False, "rank": 1, "is_winner": True, "is_me": False},
        {"username": "alice", "points": 0, "hidden": False, "rank": 2, "is_winner": False, "is_me": True}]


def test_the_periodic_task_finishes_due_challenges(cast, clock):
    from leaderboards.gamification.tasks import challenges_finish_due

    challenge = create(cast["alice"], "bob")
    challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True)
    assert challenges_finish_due() == 0
    clock.move_to(WEEK_END)
    assert challenges_finish_due.delay().get() == 1
    challenge.refresh_from_db()
    assert challenge.status == "finished"


# --- the API -----------------------------------------------------------------------------------------


def test_api_create_answer_and_read(cast, api_as):
    alice, bob = api_as(cast["alice"]), api_as(cast["bob"])
    response = alice.post("/api/v1/challenges/", {"opponents": ["bob"]}, format="json")
    assert response.status_code == 201
    pk = response.json()["id"]
    assert response.json() == {
        "id": pk, "status": "open", "created_by": "alice", "created_at": T0.isoformat(), "starts_at": None,
        "ends_at": WEEK_END.isoformat(), "join_until": WEEK_END.isoformat(), "finished_at": None,
        "my_answer": "accepted",
        "participants": [{"username": "alice", "answer": "accepted"}, {"username": "bob", "answer": "invited"}],
        "standings": [{"username": "alice", "points": 0, "hidden": False, "rank": 1, "is_winner": False,
                       "is_me": True}],
        "result": None,
    }
    accepted = bob.post(f"/api/v1/challenges/{pk}/accept/")
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["my_answer"], accepted.json()["starts_at"]) == (
        "active", "accepted", T0.isoformat())
    assert [c["id"] for c in bob.get("/api/v1/challenges/").json()] == [pk]
    assert bob.post(f"/api/v1/challenges/{pk}/decline/").json() == {
        "code": "already_answered", "detail": "You already accepted this challenge."}
    assert bob.post(f"/api/v1/challenges/{pk}/cancel/").status_code == 403
    running = alice.post(f"/api/v1/challenges/{pk}/cancel/")
    assert (running.status_code, running.json()) == (409, {
        "code": "already_running", "detail": "This challenge is running: it can no longer be cancelled."})
    other = alice.post("/api/v1/challenges/", {"opponents": ["dave"]}, format="json").json()["id"]
    cancelled = alice.post(f"/api/v1/challenges/{other}/cancel/")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


def test_api_decline(cast, api_as):
    challenge = create(cast["alice"], "bob")
    response = api_as(cast["bob"]).post(f"/api/v1/challenges/{challenge.pk}/decline/")
    assert (response.status_code, response.json()["status"], response.json()["my_answer"]) == (
        200, "cancelled", "declined")


def test_api_strangers_get_404(cast, api_as):
    challenge = create(cast["alice"], "bob")
    mallory = api_as(cast["mallory"])
    not_found = {"code": "not_found", "detail": "Not found."}
    for method, path in [("get", ""), ("post", "accept/"), ("post", "decline/"), ("post", "cancel/")]:
        response = getattr(mallory, method)(f"/api/v1/challenges/{challenge.pk}/{path}")
        assert (response.status_code, response.json()) == (404, not_found), path
    assert mallory.get("/api/v1/challenges/").json() == []
    assert mallory.get("/api/v1/challenges/999999/").status_code == 404


def test_api_refuses_non_friends_unknown_fields_and_bad_shapes(cast, api_as):
    alice = api_as(cast["alice"])
    for name in ("mallory", "nobody-by-that-name"):
        response = alice.post("/api/v1/challenges/", {"opponents": [name]}, format="json")
        assert (response.status_code, response.json()) == (400, {
            "code": ChallengeCode.NOT_FRIENDS, "detail": f"You can only challenge your friends: {name} is not one."})
    response = alice.post("/api/v1/challenges/", {"opponents": ["bob"], "stake": 5}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_field")
    response = alice.post("/api/v1/challenges/", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "required")
    response = alice.post("/api/v1/challenges/", {"opponents": []}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "no_opponents")
    assert not Challenge.objects.exists()


def test_api_a_frozen_member_reads_but_cannot_challenge(cast, api_as):
    User.objects.filter(username="alice").update(is_frozen=True)
    alice = api_as(User.objects.get(username="alice"))
    assert alice.get("/api/v1/challenges/").status_code == 200
    response = alice.post("/api/v1/challenges/", {"opponents": ["bob"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "account_frozen")


# --- the pages ----------------------------------------------------------------------------------------


def _web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_page_create_with_form_errors_and_answer(cast):
    alice, bob = _web(cast["alice"]), _web(cast["bob"])
    page = alice.get("/challenges/")
    assert page.status_code == 200
    assert b'value="bob"' in page.content and b'value="carol"' not in page.content

    bad = alice.post("/challenges/", {"opponents": ["carol"]})  # not a friend: not a choice
    assert bad.status_code == 400
    assert b"Select a valid choice. carol is not one of the available choices." in bad.content
    empty = alice.post("/challenges/", {})
    assert (empty.status_code, b"This field is required." in empty.content) == (400, True)
    User.objects.filter(username="bob").update(is_frozen=True)
    frozen = alice.post("/challenges/", {"opponents": ["bob"]})
    assert (frozen.status_code, b"bob cannot take part in challenges right now." in frozen.content) == (400, True)
    User.objects.filter(username="bob").update(is_frozen=False)

    done = alice.post("/challenges/", {"opponents": ["bob", "dave"]})
    assert (done.status_code, done["Location"]) == (302, "/challenges/")
    challenge = Challenge.objects.get()
    incoming = bob.get("/challenges/")
    assert f'action="/challenges/{challenge.pk}/accept/"'.encode() in incoming.content
    assert bob.post(f"/challenges/{challenge.pk}/accept/").status_code == 302
    running = alice.get("/challenges/")
    assert f'data-challenge="{challenge.pk}"'.encode() in running.content
    assert _web(cast["mallory"]).post(f"/challenges/{challenge.pk}/accept/").status_code == 404
    assert _web(cast["mallory"]).post(f"/challenges/{challenge.pk}/cancel/").status_code == 404


def test_dashboard_card_shows_running_challenges_with_live_standings(cast):
    challenge = create(cast["alice"], "bob")
    challenges.challenge_answer(challenge=challenge, member=cast["bob"], accept=True)
    scored(cast["bob"], 657)
    # ``scored`` stores no factor breakdown; the dashboard's score panel needs one.
    ScoreState.objects.filter(member=cast["alice"]).update(factors=dict.fromkeys(FACTOR_NAMES, 0.5))
    page = _web(cast["alice"]).get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-challenge="{challenge.pk}"' in html
    assert "+7" in html and "js/challenges.js" in html
    assert 'href="/challenges/"' in html  # the nav entry


def test_admin_lists_challenges_read_only(cast):
    create(cast["alice"], "bob")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = _web(admin)
    assert client.get("/admin/leaderboards/challenge/").status_code == 200
    challenge = Challenge.objects.get()
    detail = client.get(f"/admin/leaderboards/challenge/{challenge.pk}/change/")
    assert detail.status_code == 200 and b"bob" in detail.content
    assert client.get("/admin/leaderboards/challenge/add/").status_code == 403
