"""Big batches of base changes by one warm-started global solve (``Params.solve_share``), the
worker's cached adjacency and the graph version that keeps it honest, and the vectorised write.

Against exact solves (STYLE §13), on the database the suite runs on (PostgreSQL in CI: the
binary-COPY write and the cache; SQLite: the row-by-row fallbacks).
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.db.models import F

from scoring.contagion.db_store import DbStore
from scoring.contagion.engine import Params, StaleState, bases_set, edge_added, propagate
from scoring.contagion.models import ContagionEdge, ContagionGraph, ContagionNode
from scoring.contagion.solve import solve
from scoring.contagion.stores import MemoryStore
from tests.scoring.contagion.test_contagion_batched import ALPHA, assert_db_sound, db_graph, db_state, random_graph

GLOBAL = Params(eps=0.1, solve_share=0.01)  # a batch of ≥ 1 % of the members is one global solve
PUSHES = Params(eps=0.1)
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the cache and COPY are PostgreSQL's")


def memory_graph(seed: int, n: int, p: float) -> tuple[MemoryStore, list[int]]:
    edges, d = random_graph(seed, n, p)
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return MemoryStore.from_graph(np.arange(n), d, (pairs[:, 0], pairs[:, 1]), alpha=ALPHA), list(range(n))


def memory_edges(store: MemoryStore) -> np.ndarray:
    return np.array(sorted((u, v) for u, nb in store.adj.items() for v in nb if u < v), dtype=np.int64)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_big_batch_is_one_global_solve_and_lands_where_pushes_do(seed: int) -> None:
    pushed, ids = memory_graph(seed, 60, 0.1)
    solved, _ = memory_graph(seed, 60, 0.1)
    propagate(pushed, ids, PUSHES)
    propagate(solved, ids, PUSHES)
    rng = np.random.default_rng(seed)
    targets = {m: float(rng.normal(0, 60)) for m in rng.choice(ids, size=20, replace=False).tolist()}

    by_pushes = bases_set(pushed, targets, PUSHES)
    by_solve = bases_set(solved, targets, GLOBAL)

    assert by_pushes.pushes > 0 and by_solve.pushes == 0  # the second never pushed
    assert by_solve.rounds == 1 and by_solve.overflow == set()
    assert {m: solved.d[m] for m in targets} == pytest.approx(targets, abs=1e-9)
    assert solved.invariant_error(ALPHA) <= 1e-9
    assert max(abs(r) for r in solved.r.values()) <= 0.1 / 10 + 1.5 * 0.1 / 100  # tol + (1 + α)·drop
    exact = solve(np.array(ids), np.array([solved.d[m] for m in ids]), memory_edges(solved), alpha=ALPHA, tol=1e-12)
    assert np.abs(exact - np.array([solved.s[m] for m in ids])).max() <= PUSHES.error_bound
    assert np.abs(np.array([pushed.s[m] for m in ids]) - np.array([solved.s[m] for m in ids])).max() \
        <= 2 * PUSHES.error_bound
    assert all(solved.s[m] == after for m, (_, after) in by_solve.changes.items())


def test_a_small_batch_still_pushes() -> None:
    store, ids = memory_graph(4, 60, 0.1)
    propagate(store, ids, PUSHES)
    report = bases_set(store, {ids[0]: 50.0}, GLOBAL)  # one change: below the 16-member floor
    assert report.pushes > 0 and store.calls["load"] + store.calls["neighbours"] > 0


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_db_global_batches_match_the_exact_solve(seed: int) -> None:
    edges, d = random_graph(seed, 60, 0.1)
    ids = db_graph(60, edges, d)
    store = DbStore()
    propagate(store, ids, PUSHES)
    rng = np.random.default_rng(seed + 10)
    for _ in range(3):
        chosen = rng.choice(ids, size=20, replace=False).tolist()
        current = dict(ContagionNode.objects.filter(member_id__in=chosen).values_list("member_id", "d"))
        targets = {m: current[m] + float(rng.normal(0, 40)) for m in chosen}
        report = bases_set(store, targets, Params(eps=0.1, solve_share=0.2))
        assert report.pushes == 0 and report.conflicts == 0
        assert dict(ContagionNode.objects.filter(member_id__in=chosen).values_list("member_id", "d")) \
            == pytest.approx(targets, abs=1e-9)
        assert_db_sound(PUSHES)
    # a base change bumps the member's version, like the push path does
    assert ContagionNode.objects.get(member_id=chosen[0]).version >= 1


@pytest.mark.django_db
def test_db_global_write_refuses_a_stale_row_and_writes_nothing() -> None:
    edges, d = random_graph(3, 20, 0.2)
    ids = db_graph(20, edges, d)
    before = sorted(ContagionNode.objects.values_list("member_id", "s", "r", "d", "version"))
    store = DbStore()
    arr = np.array(ids[:3], dtype=np.int64)
    versions = np.array([0, 0, 7], dtype=np.int64)  # the third row's version is 0, not 7
    with pytest.raises(StaleState) as caught:
        store.apply_arrays(arr, np.ones(3), np.ones(3), np.zeros(3), versions)
    assert caught.value.nodes == {ids[2]}
    assert sorted(ContagionNode.objects.values_list("member_id", "s", "r", "d", "version")) == before
    s, r = store.apply_arrays(arr[::-1].copy(), np.array([1.0, 2.0, 3.0]), np.zeros(3), np.zeros(3),
                              np.zeros(3, dtype=np.int64))
    rows = dict(ContagionNode.objects.filter(member_id__in=ids[:3]).values_list("member_id", "s"))
    assert s.tolist() == [rows[ids[2]], rows[ids[1]], rows[ids[0]]]  # aligned with the ids given
    assert [rows[m] for m in ids[:3]] == [3.0, 2.0, 1.0]
    assert r.tolist() == [float(x) for x in ContagionNode.objects.filter(member_id__in=ids[:3])
                          .order_by("-member_id").values_list("r", flat=True)]


@pytest.mark.django_db
@postgresql_only
def test_every_edge_write_moves_the_graph_version() -> None:
    edges, d = random_graph(6, 10, 0.3)
    ids = db_graph(10, edges, d)

    def version() -> int:
        return ContagionGraph.objects.get(pk=1).version

    seen = [version()]
    free = next((a, b) for a in ids for b in ids if a < b and not ContagionEdge.objects.filter(
        member_a_id=a, member_b_id=b).exists())
    ContagionEdge.objects.create(member_a_id=free[0], member_b_id=free[1])  # any writer, not only the engine
    seen.append(version())
    ContagionEdge.objects.filter(member_a_id=free[0], member_b_id=free[1]).delete()
    seen.append(version())
    ContagionEdge.objects.filter(member_a_id__in=ids).update(member_b_id=F("member_b_id"))
    seen.append(version())
    assert len(set(seen)) == 4  # each write a new version, never a reused one


@pytest.mark.django_db
@postgresql_only
def test_the_cached_adjacency_follows_friendship_changes() -> None:
    edges, d = random_graph(8, 30, 0.15)
    ids = db_graph(30, edges, d)
    store = DbStore()
    propagate(store, ids, PUSHES)
    first = store.snapshot()
    assert store.snapshot().graph is first.graph  # nothing changed: the same adjacency, not re-read
    linked = {(min(ids[a], ids[b]), max(ids[a], ids[b])) for a, b in edges}
    u, v = next((a, b) for a in ids for b in ids if a < b and (a, b) not in linked)
    edge_added(store, u, v, PUSHES)
    second = store.snapshot()
    assert second.graph is not first.graph
    assert second.graph is not None and second.graph.n_edges == len(edges) + 1
    # the global batch after it solves on the new graph
    report = bases_set(store, {m: 30.0 for m in ids[:20]}, Params(eps=0.1, solve_share=0.2))
    assert report.pushes == 0
    assert_db_sound(PUSHES)
    ids_now, _, _, _, edges_now = db_state()
    assert len(edges_now[0]) == len(edges) + 1 and ids_now.tolist() == sorted(ids)
