"""Follow-up work is part of the score change's transaction, and a sweeper completes it.

The worker that scores a batch commits, then — after the commit — tells friend contagion and the
boards. A worker killed between the two used to lose that work for good. Here the commit runs
and its after-commit callbacks are dropped (exactly what a SIGKILL right after COMMIT leaves), and
the periodic sweeper alone brings contagion and the boards back in step.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leaderboards.boards import check as boards
from scoring.contagion import services as contagion
from scoring.contagion.models import ContagionNode
from scoring.ledger import follow_up, services
from scoring.ledger.models import FollowUp, ScoreState
from scoring.ledger.tasks import sweep_follow_ups
from social.graph import services as social
from tests.scoring.contagion.test_contagion_db import assert_matches_exact_solve
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _vest_at_once(settings):  # type: ignore[no-untyped-def]
    settings.CONTAGION_VESTING = timedelta(0)


def befriend(a, b) -> None:  # type: ignore[no-untyped-def]
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    social.friend_request_accept(request=sent.request, by=b)


@pytest.fixture
def world(alice, bob, carol, acme, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return build_world(alice, bob, carol, acme, django_capture_on_commit_callbacks)


def build_world(alice, bob, carol, acme, capture):  # type: ignore[no-untyped-def]
    """alice–bob–carol, everyone scored once (so everyone has this week's entry) and in step."""
    with capture(execute=True):
        befriend(alice, bob)
        befriend(bob, carol)
    for member in (alice, bob, carol):
        make_event(member, acme, 0)
    with capture(execute=True):
        services.members_score_pending(member_ids=[alice.pk, bob.pk, carol.pk])
    assert not FollowUp.objects.exists()
    assert not contagion.contagion_check()["differs"]
    assert not boards.boards_check(recheck_seconds=0).differs
    return alice, bob, carol


def _age_marks() -> None:
    FollowUp.objects.update(marked_at=timezone.now() - follow_up.SWEEP_AFTER - timedelta(seconds=1))


def _killed_after_commit(capture, member_ids) -> None:  # type: ignore[no-untyped-def]
    """Score these members; the process dies right after COMMIT: no after-commit callback runs."""
    with capture(execute=False):
        services.members_score_pending(member_ids=member_ids)


def test_a_worker_killed_right_after_the_scoring_commit_is_repaired_by_the_sweeper(
        world, acme, django_capture_on_commit_callbacks):
    alice, bob, carol = world
    bob_points = ScoreState.objects.get(member=bob).social
    for n in range(1, 4):
        make_event(alice, acme, n, missed=True)
        make_event(carol, acme, n, late_days=95)
    _killed_after_commit(django_capture_on_commit_callbacks, [alice.pk, carol.pk])

    # What the crash left: new bases contagion never saw, friends' points and boards behind.
    found = contagion.contagion_check()
    assert found["bases_unfolded"] == 2 and found["differs"]
    assert boards.boards_check(recheck_seconds=0).differences["weekly_entries"] == 2
    assert set(FollowUp.objects.values_list("member_id", "kind")) == {
        (alice.pk, "score"), (alice.pk, "base"), (carol.pk, "score"), (carol.pk, "base")}

    # The sweeper leaves marks alone while their own follow-up may still be on its way…
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_follow_ups() == {"scores": 0, "bases": 0}
    # …and completes them once they are older than that: no event arrives, no rebuild runs.
    _age_marks()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_follow_ups() == {"scores": 2, "bases": 2}

    assert not FollowUp.objects.exists()
    found = contagion.contagion_check()
    assert not found["differs"], found
    assert found["largest_points_gap"] <= contagion.PARAMS.lam * contagion.PARAMS.error_bound
    assert_matches_exact_solve()
    assert ScoreState.objects.get(member=bob).social < bob_points - 1  # his friends' payments reached him
    assert not boards.boards_check(recheck_seconds=0).differs


def test_contagion_killed_between_its_push_and_its_points_write_is_healed_by_the_tick(
        world, acme, monkeypatch, django_capture_on_commit_callbacks):
    alice, *_ = world
    for n in range(1, 4):
        make_event(alice, acme, n, missed=True)

    def killed(**kwargs):  # type: ignore[no-untyped-def]
        raise SystemExit("SIGKILL")  # the push committed; the points write never happens

    with monkeypatch.context() as patch:
        patch.setattr(contagion, "social_points_write", killed)
        with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
            services.members_score_pending(member_ids=[alice.pk])
    found = contagion.contagion_check()
    assert found["bases_unfolded"] == 0 and found["largest_points_gap"] > 1  # s moved, points did not
    assert FollowUp.objects.filter(member=alice, kind="base").exists()
    with django_capture_on_commit_callbacks(execute=True):
        result = contagion.contagion_tick()
    assert result["points_healed"] >= 1
    assert not contagion.contagion_check()["differs"]
    # The base mark the dead sync left is cleared by the sweeper's announcement (nothing left to fold).
    _age_marks()
    with django_capture_on_commit_callbacks(execute=True):
        sweep_follow_ups()
    assert not FollowUp.objects.exists()


def test_a_mark_keeps_the_oldest_unfollowed_score_and_a_late_clear_spares_a_newer_mark(
        world, acme, django_capture_on_commit_callbacks):
    alice, *_ = world
    first = ScoreState.objects.get(member=alice).score
    make_event(alice, acme, 1, missed=True)
    _killed_after_commit(django_capture_on_commit_callbacks, [alice.pk])
    old_token = FollowUp.objects.get(member=alice, kind="score").token
    make_event(alice, acme, 2, missed=True)
    _killed_after_commit(django_capture_on_commit_callbacks, [alice.pk])
    mark = FollowUp.objects.get(member=alice, kind="score")
    assert mark.old_score == first and mark.token != old_token
    # A follow-up of the first change that finishes only now must not clear the second's mark.
    assert follow_up.bases_followed({alice.pk: old_token}) == 0
    assert FollowUp.objects.filter(member=alice).count() == 2


def test_a_bulk_load_records_nothing(alice, acme):
    from scoring.ledger.bulk import members_score_pending_bulk

    make_event(alice, acme, 1)
    members_score_pending_bulk(member_ids=[alice.pk], announce=False)
    assert not FollowUp.objects.exists()


def test_contagion_clears_the_base_marks_it_folded(mallory, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.member_state_ensure(member=mallory)
    make_event(mallory, acme, 1, missed=True)
    _killed_after_commit(django_capture_on_commit_callbacks, [mallory.pk])
    with django_capture_on_commit_callbacks(execute=True):
        contagion.contagion_bases_sync(member_ids=[mallory.pk])
    assert ContagionNode.objects.get(member=mallory).d == ScoreState.objects.get(member=mallory).base - 650
    # Folded in: the base mark goes; her boards' part is still owed (the sweeper's).
    assert list(FollowUp.objects.values_list("member_id", "kind")) == [(mallory.pk, "score")]
