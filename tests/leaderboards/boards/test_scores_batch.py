"""``scores_changed``: a contagion pass or a scoring batch announces its members at once, and
the leaderboards handle the batch set-based — the same outcome as one ``score_changed`` per
member, in a number of queries that does not grow with the batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.members.models import User
from accounts.notifications.models import Notification
from leaderboards.boards.models import SeasonEntry
from leaderboards.boards.services import season_current
from leaderboards.gamification import perks
from leaderboards.gamification.models import Challenge, ChallengeParticipant, Perk, PerkGrant
from leaderboards.live import broadcast
from scoring.contagion import services
from scoring.contagion.models import ContagionNode
from scoring.ledger.models import ScoreState
from scoring.model import band_for
from tests.factories import UserFactory
from tests.leaderboards.conftest import befriend

pytestmark = pytest.mark.django_db

START = 600
#: λ·s with s = 40: ten social points each, so every member moves 600 → 610.
SIGNAL = 40.0


def _world(n: int) -> list[User]:
    """``n`` members at 600 whose contagion signal now says 610: a chain of friends, half of
    them with a weekly entry already, a perk at 605 (every member crosses it), and the first
    two in a running challenge."""
    members = [UserFactory(username=f"m{i:03d}") for i in range(n)]
    now = timezone.now()
    season = season_current()
    for i, user in enumerate(members):
        ScoreState.objects.create(member=user, base=float(START), social=0.0, score=START, factors={})
        User.objects.filter(pk=user.pk).update(score=START, score_band=band_for(START), score_reached_at=now)
        ContagionNode.objects.create(member=user, s=SIGNAL)
        if i % 2:
            SeasonEntry.objects.create(season=season, member=user, start_score=START - 5, points=5, reached_at=now)
        if i:
            befriend(members[i - 1], user)
    Perk.objects.create(slug="lounge", name="Lounge", min_score=605, is_active=True)
    perks.thresholds_forget()
    challenge = Challenge.objects.create(created_by=members[0], status=Challenge.Status.ACTIVE,
                                         starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6))
    for user in members[:2]:
        ChallengeParticipant.objects.create(challenge=challenge, member=user, answer="accepted",
                                            start_score=START - 20)
    return members


def _handler_queries(members: list[User], capture) -> int:  # type: ignore[no-untyped-def]
    """Write the contagion points, then run the announcement (and count its queries); what the
    handlers defer (tasks, publishes) is captured, not run."""
    with capture(execute=False) as callbacks:
        services.social_points_write(member_ids=[m.pk for m in members], explanation="Your friends")
    with capture(execute=False), CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    return len(queries)


#: Before the batch signal (one ``score_changed`` per member), handling this pass cost 56
#: queries for 5 members and 436 for 50 (≈ 8.5 per member). One of them clears the batch's
#: follow-up marks once every receiver succeeded (``scoring.ledger.follow_up``).
HANDLER_QUERIES = 16


@pytest.mark.parametrize("n", [5, 50])
def test_handling_a_contagion_pass_costs_the_same_queries_for_5_or_50_members(
        n, django_capture_on_commit_callbacks):
    members = _world(n)
    assert _handler_queries(members, django_capture_on_commit_callbacks) == HANDLER_QUERIES


def test_a_contagion_pass_updates_entries_index_perks_and_challenges_and_publishes_once_per_member(
        monkeypatch, django_capture_on_commit_callbacks):
    members = _world(6)
    published: list[dict[str, object]] = []
    monkeypatch.setattr(broadcast, "member_changed", lambda **kw: published.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        moved = services.social_points_write(member_ids=[m.pk for m in members], explanation="Friends")
    assert moved == 6
    assert sorted(p["member_id"] for p in published) == sorted(m.pk for m in members)
    assert {(p["old_score"], p["new_score"], p["cause"]) for p in published} == {(600, 610, "contagion")}
    season = season_current()
    # Existing entries keep their start (595); new ones start from the ledger's first score this
    # season — the contagion row itself (610), as the per-member path did.
    assert dict(SeasonEntry.objects.filter(season=season).values_list("member_id", "points")) == {
        m.pk: (15 if i % 2 else 0) for i, m in enumerate(members)}
    assert set(ChallengeParticipant.objects.values_list("member_id", "points")) == {
        (members[0].pk, 30), (members[1].pk, 30)}
    assert sorted(PerkGrant.objects.filter(revoked_at__isnull=True).values_list("member_id", flat=True)) == sorted(
        m.pk for m in members)
    # Everyone rose together: no friend was passed.
    assert not Notification.objects.filter(kind=Notification.Kind.PASSED).exists()


def test_a_riser_in_a_batch_tells_the_friends_it_passed_and_nobody_else(django_capture_on_commit_callbacks):
    members = _world(3)
    # m000 stays at 600, m002 rises to 605 only: m001 (600 → 610) passes both its friends;
    # m002 passes nobody (m000 is no friend of theirs, m001 is above).
    ContagionNode.objects.filter(member=members[2]).update(s=20.0)
    ContagionNode.objects.filter(member=members[0]).update(s=0.0)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        services.social_points_write(member_ids=[m.pk for m in members], explanation="Friends")
    told = sorted(Notification.objects.filter(kind=Notification.Kind.PASSED).values_list("member_id", "text"))
    assert told == [(members[0].pk, "m001 passed you on your friends board (610 vs your 600)"),
                    (members[2].pk, "m001 passed you on your friends board (610 vs your 605)")]
    # Both written by one INSERT (beside the perks' own); one read for the live push per INSERT.
    table = Notification._meta.db_table
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'INSERT INTO "{table}"')]
    assert [sql.count("passed you") for sql in inserts if "passed you" in sql] == [2]
    assert sum(f'FROM "{table}" n WHERE' in q["sql"] for q in queries.captured_queries) == len(inserts)


def test_band_badges_take_one_task_for_the_batch(monkeypatch, django_capture_on_commit_callbacks):
    from leaderboards.gamification import badges

    members = _world(4)
    ContagionNode.objects.update(s=240.0)  # +60 points: 600 → 660, into "Very good"
    calls: list[tuple[list[int], list[str]]] = []
    monkeypatch.setattr(badges, "badges_evaluate_later",
                        lambda *, member_ids, families: calls.append((member_ids, families)))
    with django_capture_on_commit_callbacks(execute=True):
        services.social_points_write(member_ids=[m.pk for m in members], explanation="Friends")
    assert calls == [(sorted(m.pk for m in members), [badges.BANDS])]
