"""Friend contagion on the database: base changes, friendships, private mode, rebuild, export."""

from __future__ import annotations

import csv
from datetime import timedelta

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.members.services import user_update_profile
from scoring.contagion import services as contagion_services
from scoring.contagion.engine import social_points
from scoring.contagion.models import ContagionEdge, ContagionNode
from scoring.contagion.services import PARAMS, SOCIAL_WRITE_STEP
from scoring.contagion.solve import solve
from scoring.ledger import services
from scoring.ledger.models import ScoreChange, ScoreState
from scoring.model import total_score
from social.graph import services as social
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _vest_at_once(settings):
    settings.CONTAGION_VESTING = timedelta(0)


def befriend(a, b):
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    return social.friend_request_accept(request=sent.request, by=b)


@pytest.fixture
def world(alice, bob, carol, mallory, django_capture_on_commit_callbacks):
    """alice–bob and bob–carol are friends; mallory is a stranger. Everyone has a score."""
    with django_capture_on_commit_callbacks(execute=True):
        for member in (alice, bob, carol, mallory):
            services.member_state_ensure(member=member)
    with django_capture_on_commit_callbacks(execute=True):
        befriend(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        befriend(bob, carol)
    return alice, bob, carol, mallory


def exact_s() -> dict[int, float]:
    ids = sorted(ScoreState.objects.values_list("member_id", flat=True))
    base = dict(ScoreState.objects.values_list("member_id", "base"))
    edges = list(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    s = solve(np.array(ids), np.array([base[i] - 650 for i in ids]), (a, b), alpha=PARAMS.alpha, tol=1e-12)
    return dict(zip(ids, s.tolist(), strict=True))


def assert_matches_exact_solve() -> None:
    exact = exact_s()
    stored = dict(ContagionNode.objects.values_list("member_id", "s"))
    for member_id, s in exact.items():
        assert abs(stored.get(member_id, 0.0) - s) <= PARAMS.error_bound, member_id
    for state in ScoreState.objects.all():
        # Stored points follow λ·s to within the write step (one decimal is shown).
        assert abs(state.social - social_points(stored.get(state.member_id, 0.0), PARAMS)) < SOCIAL_WRITE_STEP
        assert state.score == total_score(state.base, state.social)


def test_friendships_enter_the_contagion_graph(world):
    alice, bob, carol, mallory = world
    pairs = set(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))
    assert pairs == {tuple(sorted((alice.pk, bob.pk))), tuple(sorted((bob.pk, carol.pk)))}
    assert dict(ContagionNode.objects.values_list("member_id", "deg")) == {
        alice.pk: 1, bob.pk: 2, carol.pk: 1, mallory.pk: 0}
    assert_matches_exact_solve()


def test_a_base_change_moves_friends_and_friends_of_friends_exactly(world, acme, django_capture_on_commit_callbacks):
    alice, bob, carol, mallory = world
    before = dict(ScoreState.objects.values_list("member_id", "social"))
    for n in range(6):
        make_event(alice, acme, n, missed=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    after = dict(ScoreState.objects.values_list("member_id", "social"))
    assert after[bob.pk] < before[bob.pk]
    assert after[carol.pk] < before[carol.pk]  # a friend of a friend, at α²
    assert after[mallory.pk] == before[mallory.pk] == 0.0
    assert_matches_exact_solve()
    row = ScoreChange.objects.filter(member=bob, cause="contagion").first()
    assert row is not None
    assert row.explanation.startswith("alice: Card repayment to Acme Bank missed: −")
    assert row.new_score == ScoreState.objects.get(member=bob).score


def test_unfriending_removes_the_contagion_exactly(world, acme, django_capture_on_commit_callbacks):
    alice, bob, _, _ = world
    for n in range(6):
        make_event(alice, acme, n, missed=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    with django_capture_on_commit_callbacks(execute=True):
        social.friendship_unfriend(member=bob, username="alice")
    assert not ContagionEdge.objects.filter(member_a_id=min(alice.pk, bob.pk), member_b_id=max(alice.pk, bob.pk))
    assert_matches_exact_solve()
    # Alice is alone now: her signal is back to zero within the bound, and so are her points.
    assert abs(ContagionNode.objects.get(member=alice).s) <= PARAMS.error_bound
    assert abs(ScoreState.objects.get(member=alice).social
               - social_points(ContagionNode.objects.get(member=alice).s)) < SOCIAL_WRITE_STEP


def test_private_mode_leaves_the_social_game_both_ways(world, acme, django_capture_on_commit_callbacks):
    alice, bob, _, _ = world
    with django_capture_on_commit_callbacks(execute=True):
        user_update_profile(user=bob, data={"private_mode": True})
    assert ContagionEdge.objects.count() == 0
    assert ContagionNode.objects.get(member=bob).deg == 0
    for n in range(6):
        make_event(alice, acme, n, missed=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    assert abs(ScoreState.objects.get(member=bob).social
               - social_points(ContagionNode.objects.get(member=bob).s)) < SOCIAL_WRITE_STEP
    assert abs(ContagionNode.objects.get(member=bob).s) <= PARAMS.error_bound
    with django_capture_on_commit_callbacks(execute=True):
        user_update_profile(user=bob, data={"private_mode": False})
    assert ContagionEdge.objects.count() == 2
    assert_matches_exact_solve()


def test_rebuild_equals_incremental_and_export_lets_anyone_check(world, acme, tmp_path, capsys,
                                                                  django_capture_on_commit_callbacks):
    alice, *_ = world
    for n in range(4):
        make_event(alice, acme, n, late_days=45)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_score_pending(member_id=alice.pk)
    incremental = dict(ContagionNode.objects.values_list("member_id", "s"))
    call_command("contagion_rebuild")
    out = capsys.readouterr().out
    assert "within the bound" in out
    rebuilt = dict(ContagionNode.objects.values_list("member_id", "s"))
    assert max(abs(rebuilt[m] - incremental[m]) for m in rebuilt) <= PARAMS.error_bound
    assert_matches_exact_solve()
    call_command("contagion_export", str(tmp_path))
    with (tmp_path / "nodes.csv").open() as f:
        nodes = list(csv.DictReader(f))
    with (tmp_path / "edges.csv").open() as f:
        edges = list(csv.DictReader(f))
    assert len(nodes) == 4 and len(edges) == 2
    ids = np.array([int(n["member_id"]) for n in nodes])
    d = np.array([float(n["base"]) - 650 for n in nodes])
    a = np.array([int(e["member_a"]) for e in edges])
    b = np.array([int(e["member_b"]) for e in edges])
    s = solve(ids, d, (a, b), alpha=0.5, tol=1e-12)
    assert np.abs(s - np.array([float(n["s"]) for n in nodes])).max() <= PARAMS.error_bound


def test_breakdown_explains_who_moves_me(world):
    bob = world[1]
    rows = contagion_services.contagion_breakdown(member=bob)
    assert sorted(r.username for r in rows) == ["alice", "carol"]
    total = sum(r.total for r in rows)
    assert abs(total - PARAMS.lam * ContagionNode.objects.get(member=bob).s) <= PARAMS.lam * PARAMS.error_bound * 2
    assert contagion_services.contagion_breakdown(member=world[3]) == []


def test_tick_clears_a_residual_backlog_left_by_an_exhausted_budget(world):
    from scoring.contagion.db_store import DbStore
    from scoring.contagion.engine import Params, base_set

    alice, bob, *_ = world
    # Bob's base drops by 80 points and the push has no budget at all (a hub, say): d moves and
    # his friends' residuals grow above ε, but nothing is pushed — the residuals wait, not lost.
    ScoreState.objects.filter(member=bob).update(base=ScoreState.objects.get(member=bob).base - 80)
    report = base_set(DbStore(), bob.pk, ScoreState.objects.get(member=bob).base - 650, Params(budget=0))
    assert report.overflow == {alice.pk, world[2].pk}
    assert max(abs(r) for r in ContagionNode.objects.values_list("r", flat=True)) > PARAMS.eps
    result = contagion_services.contagion_tick()
    assert result["backlog"] == 2
    assert all(abs(r) <= PARAMS.eps for r in ContagionNode.objects.values_list("r", flat=True))
    assert_matches_exact_solve()


def test_seed_graph_loads_the_real_facebook_graph_sample(tmp_path, capsys):
    sample = tmp_path / "edges.txt"
    full = (settings.CREDO_DATA_DIR / "facebook_combined.txt").read_text().splitlines()
    # The first 400 edges of the real file (SNAP numbering) — a connected ego network around node 0.
    sample.write_text("\n".join(full[:400]) + "\n")
    call_command("seed_graph", str(sample))
    out = capsys.readouterr().out
    nodes = {int(x) for line in full[:400] for x in line.split()}
    assert f"{len(nodes)} members ({len(nodes)} new), 400 friendships (400 new)" in out
    assert ContagionEdge.objects.count() == 400
    assert f"{len(nodes)} members ({len(nodes)} new), 400 friendships; largest social-points gap to the " \
           "incremental state 0.0000 (within the bound" in out
    assert_matches_exact_solve()
    # Idempotent.
    call_command("seed_graph", str(sample))
    assert "(0 new), 400 friendships (0 new)" in capsys.readouterr().out


def test_many_base_changes_in_one_propagation_match_the_exact_solve(world):
    alice, _, carol, mallory = world
    for member, delta in ((alice, -120.0), (carol, 45.0), (mallory, 30.0)):
        state = ScoreState.objects.get(member=member)
        ScoreState.objects.filter(member=member).update(
            base=state.base + delta, score=total_score(state.base + delta, state.social))
    moved = contagion_services.contagion_bases_sync(member_ids=[alice.pk, carol.pk, mallory.pk])
    assert moved == 3  # alice, bob and carol's signals moved; mallory (no friends) has none to move
    nodes = dict(ContagionNode.objects.values_list("member_id", "d"))
    assert nodes == {m.pk: ScoreState.objects.get(member=m).base - 650 for m in world}
    assert_matches_exact_solve()
    # Syncing again finds nothing to do (each base change is folded in exactly once).
    assert contagion_services.contagion_bases_sync(member_ids=[alice.pk, carol.pk, mallory.pk]) == 0


def test_rebuild_gives_a_never_scored_member_in_a_friendship_their_starting_score(world):
    _, _, carol, mallory = world
    ContagionEdge.objects.all().delete()
    ContagionNode.objects.filter(member=carol).delete()
    ScoreState.objects.filter(member=carol).delete()  # as if carol had never been scored
    ScoreState.objects.filter(member=mallory).delete()  # a stranger without friends stays unscored
    result = contagion_services.contagion_rebuild()
    assert ScoreState.objects.filter(member=carol).exists()
    assert not ScoreState.objects.filter(member=mallory).exists()
    assert result["edges"] == 2 and result["new_members"] == 1
    assert_matches_exact_solve()


def test_rebuild_writes_only_the_edges_that_differ(world):
    alice, bob, carol, mallory = world
    key = (min(alice.pk, mallory.pk), max(alice.pk, mallory.pk))
    ContagionEdge.objects.create(member_a_id=key[0], member_b_id=key[1])  # applied, but no friendship
    ContagionEdge.objects.filter(member_a_id=min(bob.pk, carol.pk), member_b_id=max(bob.pk, carol.pk)).delete()
    kept = ContagionEdge.objects.get(member_a_id=min(alice.pk, bob.pk), member_b_id=max(alice.pk, bob.pk)).pk
    result = contagion_services.contagion_rebuild()
    assert result["edges"] == 2
    assert set(ContagionEdge.objects.values_list("member_a_id", "member_b_id")) == {
        (min(alice.pk, bob.pk), max(alice.pk, bob.pk)), (min(bob.pk, carol.pk), max(bob.pk, carol.pk))}
    # the edge that was right stayed as it was (same row), only the two wrong ones moved
    assert ContagionEdge.objects.filter(pk=kept).exists()
    assert_matches_exact_solve()


def test_rebuild_rewrites_drifted_rows_with_the_exact_solve_and_new_versions(world):
    alice, bob, carol, mallory = world
    before = {m: (d, deg, version) for m, d, deg, version in
              ContagionNode.objects.values_list("member_id", "d", "deg", "version")}
    ContagionNode.objects.filter(member_id__in=[alice.pk, carol.pk]).update(s=123.0, r=-4.0, deg=7)
    contagion_services.contagion_rebuild()
    after = {m: (d, deg, version) for m, d, deg, version in
             ContagionNode.objects.values_list("member_id", "d", "deg", "version")}
    assert {m: (d, deg) for m, (d, deg, _) in after.items()} == {m: (d, deg) for m, (d, deg, _) in before.items()}
    # Rewritten rows get version + 1 (a push that read them retries): the drifted two, and bob,
    # whose solved s moved too (the solve starts from the stored, drifted values); mallory, who
    # has no friends, kept her row.
    assert {m: after[m][2] - before[m][2] for m in after} == {alice.pk: 1, bob.pk: 1, carol.pk: 1, mallory.pk: 0}
    exact = exact_s()
    stored = ContagionNode.objects.values_list("member_id", "s")
    assert all(abs(s - exact.get(m, 0.0)) <= PARAMS.eps / 10 for m, s in stored)
    assert_matches_exact_solve()


def test_contagion_rows_leave_room_for_in_place_updates(postgres):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'scoring_contagionnode'")
        assert cursor.fetchone()[0] == ["fillfactor=50"]
