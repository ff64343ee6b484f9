"""Friend-contagion engine against exact solves (DESIGN §3; STYLE §13).

Invariant checked everywhere: r = αP(d+s) − s to 1e-9; after every engine call every |r| ≤ ε and
‖s − s*‖∞ ≤ ε/(1−α) against numpy.linalg.solve (small graphs) or solve() (the real graph).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import numpy as np
import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.contagion.engine import (
    Delta,
    Params,
    StaleState,
    base_changed,
    edge_added,
    edge_removed,
    fold_edge_added,
    fold_edge_removed,
    propagate,
    reconcile,
    social_points,
)
from scoring.contagion.solve import (
    baseline_jacobi,
    build_graph,
    graph_residuals,
    residuals,
    solve,
    solve_cg,
    solve_jacobi,
)
from scoring.contagion.stores import ArrayStore, MemoryStore

FACEBOOK = django_settings.CREDO_DATA_DIR / "facebook_combined.txt"
ALPHA = 0.5


# -- helpers --------------------------------------------------------------------------------
def exact_s(store: MemoryStore, alpha: float = ALPHA) -> dict[int, float]:
    """Dense direct solve of (I − αP)s = αPd for a small store."""
    ids = sorted(store.s)
    pos = {m: i for i, m in enumerate(ids)}
    n = len(ids)
    p = np.zeros((n, n))
    for u in ids:
        for w in store.adj[u]:
            p[pos[u], pos[w]] = 1.0 / len(store.adj[u])
    d = np.array([store.d[m] for m in ids])
    s = np.linalg.solve(np.eye(n) - alpha * p, alpha * p @ d) if n else np.zeros(0)
    return dict(zip(ids, s.tolist(), strict=True))


def assert_converged(store: MemoryStore, params: Params) -> None:
    assert store.invariant_error(params.alpha) <= 1e-9
    assert store.max_residual() <= params.eps
    exact = exact_s(store, params.alpha)
    worst = max((abs(store.s[m] - exact[m]) for m in exact), default=0.0)
    assert worst <= params.error_bound


def small_store(n: int, edges: list[tuple[int, int]], d: list[float]) -> MemoryStore:
    return MemoryStore.from_graph(list(range(n)), d, np.array(edges, dtype=np.int64).reshape(-1, 2))


@st.composite
def graphs(draw: st.DrawFn, max_n: int = 12) -> tuple[int, list[tuple[int, int]], list[float]]:
    n = draw(st.integers(1, max_n))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    d = draw(st.lists(st.floats(-300, 300), min_size=n, max_size=n))
    return n, edges, d


ops = st.lists(
    st.tuples(st.sampled_from(["base", "link", "unlink"]), st.integers(0, 1 << 30),
              st.integers(0, 1 << 30), st.floats(-200, 200)),
    max_size=25,
)


# -- the fold formulas ----------------------------------------------------------------------
def test_edge_folds_equal_recomputed_rows() -> None:
    """Δr from the closed forms equals αP'(d+s) − s recomputed for the new rows, for k = 0, 1, 3."""
    # 0 has friends {1, 2, 3}; 4 has none; 5 has exactly one friend (1)
    store = small_store(6, [(0, 1), (0, 2), (0, 3), (1, 5)], [10.0, -20.0, 30.0, 5.0, 40.0, -7.0])
    for m, value in {0: 3.0, 1: -1.5, 2: 2.0, 3: 0.25, 4: 8.0, 5: -4.0}.items():
        store.s[m] = value  # arbitrary s: the invariant defines r for any s
    for m in store.s:
        store.r[m] = 0.0
    store.r.update(residuals_of(store))
    assert store.invariant_error() <= 1e-12

    store.change_edge(0, 4, add=True, fold=fold_edge_added(ALPHA))  # k=3 -> 4 and k=0 -> 1
    assert store.invariant_error() <= 1e-12
    assert store.r[4] == pytest.approx(ALPHA * (10.0 + 3.0) - 8.0, abs=1e-12)
    store.change_edge(1, 5, add=False, fold=fold_edge_removed(ALPHA))  # k=1 -> 0 for 5
    assert store.invariant_error() <= 1e-12
    assert store.r[5] == -store.s[5]
    store.change_edge(0, 2, add=False, fold=fold_edge_removed(ALPHA))  # k=4 -> 3
    assert store.invariant_error() <= 1e-12


def residuals_of(store: MemoryStore) -> dict[int, float]:
    out = {}
    for u, nb in store.adj.items():
        mean = sum(store.d[w] + store.s[w] for w in nb) / len(nb) if nb else 0.0
        out[u] = ALPHA * mean - store.s[u]
    return out


def test_edge_change_errors() -> None:
    store = small_store(3, [(0, 1)], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        edge_added(store, 0, 1)
    with pytest.raises(ValueError):
        edge_removed(store, 0, 2)
    with pytest.raises(ValueError):
        edge_added(store, 2, 2)
    assert store.invariant_error() == 0.0


# -- random sequences -----------------------------------------------------------------------
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs(), sequence=ops, eps=st.sampled_from([1.0, 0.1, 0.01]))
def test_random_sequences_keep_invariant_and_bound(graph, sequence, eps: float) -> None:
    n, edges, d = graph
    params = Params(eps=eps)
    store = small_store(n, edges, d)
    propagate(store, range(n), params)
    assert_converged(store, params)
    for kind, a, b, delta in sequence:
        u, v = a % n, b % n
        if kind == "base":
            report = base_changed(store, u, delta, params)
        elif u == v:
            continue
        elif kind == "link" and v not in store.adj[u]:
            report = edge_added(store, u, v, params)
        elif kind == "unlink" and v in store.adj[u]:
            report = edge_removed(store, u, v, params)
        else:
            continue
        assert report.overflow == set()
        assert_converged(store, params)


@settings(max_examples=60, deadline=None)
@given(graph=graphs(max_n=10), budget=st.integers(0, 30))
def test_budget_overflow_is_exactly_what_is_left_and_reconcile_restores(graph, budget) -> None:
    n, edges, d = graph
    params = Params(eps=0.01, budget=budget)
    store = small_store(n, edges, d)
    report = propagate(store, range(n), params)
    assert store.invariant_error() <= 1e-9
    assert report.edge_visits <= budget
    above = {m for m, r in store.r.items() if abs(r) > params.eps}
    assert report.overflow == above
    reconcile(store, params)
    assert_converged(store, params)


def test_hub_beyond_budget_is_overflow() -> None:
    # hub 0 with 40 leaves; leaf 1 also knows 41; a base change at 41 reaches the hub via 1
    edges = [(0, i) for i in range(1, 41)] + [(1, 41)]
    store = small_store(42, edges, [0.0] * 42)
    params = Params(eps=0.1, budget=30)
    report = base_changed(store, 41, 100.0, params)
    assert 0 in report.overflow
    assert report.overflow == {m for m, r in store.r.items() if abs(r) > params.eps}
    assert store.invariant_error() <= 1e-9
    assert store.d[41] == 100.0
    reconcile(store, params)
    assert_converged(store, params)


def test_lonely_member_signal_goes_to_zero() -> None:
    store = small_store(2, [(0, 1)], [0.0, 200.0])
    params = Params(eps=0.1)
    propagate(store, [0, 1], params)
    assert store.s[0] == pytest.approx(400.0 / 3, abs=params.error_bound)  # s0 = α(200 + s0/2)
    report = edge_removed(store, 0, 1, params)
    assert store.s[0] == 0.0 and store.s[1] == 0.0
    assert store.r[0] == 0.0 and store.r[1] == 0.0
    assert report.point_changes(params)[0] == (social_points(report.changes[0][0]), 0.0)


def test_social_points_clamp() -> None:
    assert social_points(100.0) == 25.0
    assert social_points(-100.0) == -25.0
    assert social_points(240.0) == 60.0
    assert social_points(1000.0) == 60.0
    assert social_points(-1000.0) == -60.0


def test_new_member_and_stranger_untouched() -> None:
    store = small_store(3, [(0, 1)], [0.0, 0.0, 0.0])
    store.add_member(99, d=50.0)
    params = Params()
    report = base_changed(store, 0, 80.0, params)  # alice's base moves; bob feels it
    assert set(report.changes) == {1, 0} or set(report.changes) == {1}
    assert store.s[2] == 0.0 and store.r[2] == 0.0  # carol-less stranger: nothing
    assert store.s[99] == 0.0 and store.r[99] == 0.0
    edge_added(store, 99, 2, params)
    assert_converged(store, params)


# -- concurrency ----------------------------------------------------------------------------
class InterleavingStore(MemoryStore):
    """Runs ``hook`` once, at the start of the first ``apply``: i.e. after this worker read its
    state and before its increments land — the other worker's whole call fits in between."""

    def __init__(self, **kw: bool) -> None:
        super().__init__(**kw)
        self.hook: Callable[[], object] | None = None
        self.residual_after_first_apply: float | None = None

    def apply(self, deltas: Mapping[int, Delta], versions: Mapping[int, int]):
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        out = super().apply(deltas, versions)
        if hook is not None:  # this worker's stale batch just landed on top of the other's
            self.residual_after_first_apply = self.max_residual()
        return out


def interleaving_copy(store: MemoryStore, *, check_versions: bool = True) -> InterleavingStore:
    twin = InterleavingStore(check_versions=check_versions)
    twin.s, twin.r, twin.d = dict(store.s), dict(store.r), dict(store.d)
    twin.version = dict(store.version)
    twin.adj = {m: set(nb) for m, nb in store.adj.items()}
    return twin


def path_store() -> MemoryStore:
    # a 6-cycle with a chord: small enough to reason about, loops enough to need many pushes
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (1, 4)]
    return small_store(6, edges, [120.0, -40.0, 15.0, 60.0, -90.0, 30.0])


def test_two_workers_pushing_the_same_stale_residuals_commute() -> None:
    params = Params(eps=0.1)
    store = interleaving_copy(path_store())
    plain = MemoryStore.from_graph(range(6), [store.d[m] for m in range(6)],
                                   np.array([(u, v) for u in store.adj for v in store.adj[u]
                                             if u < v]))
    # worker B propagates the same seeds from the same state A already read
    store.hook = lambda: propagate(store, range(6), params)
    report = propagate(store, range(6), params)
    # A's increments landed on top of B's: every residual A pushed was pushed twice (overshoot)
    assert store.residual_after_first_apply is not None
    assert store.residual_after_first_apply > params.eps
    assert store.invariant_error() <= 1e-9  # ...but the invariant never broke
    assert report.rounds >= 2  # A saw the overshoot in apply's answer and pushed it back
    assert_converged(store, params)
    propagate(plain, range(6), params)
    assert max(abs(store.s[m] - plain.s[m]) for m in range(6)) <= 2 * params.error_bound


def test_interleaved_base_changes_of_two_friends() -> None:
    params = Params(eps=0.1)
    base = path_store()
    propagate(base, range(6), params)
    store = interleaving_copy(base)
    store.hook = lambda: base_changed(store, 2, -150.0, params)
    base_changed(store, 1, 200.0, params)
    assert store.invariant_error() <= 1e-9
    assert store.d[1] == base.d[1] + 200.0 and store.d[2] == base.d[2] - 150.0
    assert_converged(store, params)


@pytest.mark.parametrize("check_versions", [True, False])
def test_friendship_change_during_a_push_is_caught_by_versions(check_versions: bool) -> None:
    params = Params(eps=0.1)
    base = path_store()
    propagate(base, range(6), params)
    store = interleaving_copy(base, check_versions=check_versions)
    # while worker A pushes from 0's base change, worker B unfriends 0-1 and friends 0-3
    def other_worker() -> None:
        store.change_edge(0, 1, add=False, fold=fold_edge_removed(ALPHA))
        store.change_edge(0, 3, add=True, fold=fold_edge_added(ALPHA))

    store.hook = other_worker
    report = base_changed(store, 0, 300.0, params)
    if check_versions:
        assert report.conflicts == 1  # A's first batch was refused, nothing of it applied
        assert store.invariant_error() <= 1e-9
        propagate(store, [0, 1, 3], params)  # B's own propagate, after its change
        assert_converged(store, params)
    else:
        # without the guard A spread 0's change with the old friend list: the invariant breaks
        assert store.invariant_error() > 1.0


def test_stale_apply_changes_nothing() -> None:
    store = path_store()
    before = dict(store.s), dict(store.r)
    store.change_edge(0, 2, add=True, fold=fold_edge_added(ALPHA))
    r_after_edge = dict(store.r)
    with pytest.raises(StaleState):
        store.apply({0: Delta(1.0, -1.0), 3: Delta(0.0, 0.5)}, {0: 0, 3: 0})
    assert store.s == before[0] and store.r == r_after_edge


# -- the solver -----------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(graph=graphs(max_n=15), shuffle=st.randoms(use_true_random=False))
def test_solve_matches_dense_solve(graph, shuffle: random.Random) -> None:
    n, edges, d = graph
    ids = [10 * m + 7 for m in range(n)]  # arbitrary ids, unsorted order below
    order = list(range(n))
    shuffle.shuffle(order)
    flipped = [(ids[b], ids[a]) if shuffle.random() < 0.5 else (ids[a], ids[b]) for a, b in edges]
    edge_arr = np.array(flipped, dtype=np.int64).reshape(-1, 2)
    store = small_store(n, edges, d)
    exact = exact_s(store)
    s = solve([ids[m] for m in order], [d[m] for m in order], edge_arr, ALPHA, 1e-9)
    assert max((abs(s[k] - exact[m]) for k, m in enumerate(order)), default=0.0) <= 2e-9
    r = residuals([ids[m] for m in order], [d[m] for m in order], s, edge_arr, ALPHA)
    assert np.abs(r).max(initial=0.0) <= 1e-9
    sb, _ = baseline_jacobi([ids[m] for m in order], [d[m] for m in order], edge_arr, ALPHA, 1e-9)
    assert np.abs(sb - s).max(initial=0.0) <= 4e-9


def test_graph_building_rules() -> None:
    g = build_graph([5, 1, 3], np.array([[1, 3], [3, 1], [5, 3]]))
    assert g.ids.tolist() == [1, 3, 5]
    assert g.deg.tolist() == [1.0, 2.0, 1.0]  # the repeated friendship counts once
    assert g.n_edges == 2
    with pytest.raises(ValueError):
        build_graph([1, 2], np.array([[1, 1]]))
    with pytest.raises(ValueError):
        build_graph([1, 2], np.array([[1, 4]]))
    # isolated member: s = 0 exactly; others per the closed form s = α(d_v + s_v) on a pair
    s = solve([1, 2, 3], [30.0, 90.0, 500.0], np.array([[1, 2]]), ALPHA, 1e-12)
    assert s[2] == 0.0
    assert s[0] == pytest.approx((0.5 * 90 + 0.25 * 30) / 0.75, abs=1e-10)


def test_cg_and_jacobi_reach_the_same_point() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    u = rng.integers(0, n, 20000)
    v = rng.integers(0, n, 20000)
    keep = u != v
    g = build_graph(np.arange(n), (u[keep], v[keep]))
    d = rng.normal(0, 80, n)
    a = solve_cg(g, d, tol=1e-8)
    b = solve_jacobi(g, d, tol=1e-8)
    assert a.residual <= 1e-8 and b.residual <= 1e-8
    assert np.abs(a.s - b.s).max() <= 4e-8
    assert np.abs(graph_residuals(g, d, a.s, ALPHA)).max() <= 1e-8
    assert a.iterations < b.iterations


# -- the real graph -------------------------------------------------------------------------
def facebook() -> tuple[np.ndarray, np.ndarray]:
    edges = np.loadtxt(FACEBOOK, dtype=np.int64)
    return np.arange(int(edges.max()) + 1), edges


def test_facebook_incremental_matches_solve() -> None:
    ids, edges = facebook()
    assert ids.size == 4039 and edges.shape == (88234, 2)
    rng = np.random.default_rng(42)
    d = np.clip(rng.normal(650, 90, ids.size), 350, 950) - 650
    params = Params(eps=0.1)
    store = MemoryStore.from_graph(ids, d, edges, s=solve(ids, d, edges, ALPHA, 1e-6))
    assert store.max_residual() <= 1e-6
    touched = []
    for _ in range(50):
        member = int(rng.integers(ids.size))
        report = base_changed(store, member, float(rng.normal(0, 40)), params)
        assert report.overflow == set()
        touched.append(report.nodes_touched)
    assert store.max_residual() <= params.eps
    assert store.invariant_error() <= 1e-9
    snap = store.snapshot()
    s_star = solve(snap.ids, snap.d, snap.edges, ALPHA, 1e-8)
    assert np.abs(snap.s - s_star).max() <= params.error_bound
    assert max(touched) < ids.size  # local: no base change touched the whole graph


def test_facebook_array_store_agrees_with_memory_store() -> None:
    ids, edges = facebook()
    rng = np.random.default_rng(7)
    d = rng.normal(0, 80, ids.size)
    params = Params(eps=0.1)
    mem = MemoryStore.from_graph(ids, d, edges)
    arr = ArrayStore(build_graph(ids, edges), d)
    for store in (mem, arr):
        reconcile(store, params)
    script = [(int(rng.integers(ids.size)), float(rng.normal(0, 50))) for _ in range(20)]
    for member, delta in script:
        base_changed(mem, member, delta, params)
        base_changed(arr, member, delta, params)
    edge_removed(mem, 0, 1, params)
    edge_removed(arr, 0, 1, params)
    edge_added(mem, 0, 4038, params)
    edge_added(arr, 0, 4038, params)
    snap = arr.snapshot()
    g = build_graph(snap.ids, snap.edges)
    assert g.n_edges == 88234
    assert np.abs(graph_residuals(g, snap.d, snap.s, ALPHA) - snap.r).max() <= 1e-9
    assert np.abs(snap.r).max() <= params.eps
    s_star = solve(snap.ids, snap.d, snap.edges, ALPHA, 1e-8)
    mem_s = np.array([mem.s[m] for m in ids.tolist()])
    assert np.abs(snap.s - s_star).max() <= params.error_bound
    assert np.abs(mem_s - s_star).max() <= params.error_bound


def test_load_and_apply_protocol_shapes() -> None:
    store = path_store()
    states = store.load([0, 3])
    assert set(states) == {0, 3} and states[0].deg == 2 and states[0].version == 0
    out = store.apply({0: Delta(ds=2.0, dr=-2.0)}, {0: 0})
    assert out == {0: (store.s[0], store.r[0])}
    assert store.invariant_error() > 0.0  # a lone s-move without its spread is not a push
