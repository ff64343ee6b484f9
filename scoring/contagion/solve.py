"""Full (global) solve of the friend-contagion fixed point, with iterative sparse methods.

The social signal ``s`` (in deviation units: points of ``base - 650``, before the λ scaling and the
cap) is the fixed point::

    s = α · P · (d + s)        P = D⁻¹ A  (row-normalised adjacency of active friendships)

i.e. ``(I − αP) s = αPd``. A member with no active friends has an empty row in ``P``, so ``s = 0``.

Everything here is pure numpy/scipy and storage-agnostic: members are identified by integer ids,
friendships are given as two id arrays (each undirected friendship once, in either orientation).

Why no ``spsolve``: a direct factorisation does not finish on 1M members / 10M friendships
(DESIGN §11). The operator is well conditioned instead: ``D − αA`` is symmetric positive definite
with the symmetrically scaled spectrum inside ``[1 − α, 1 + α]``, so conjugate gradients on
``(I − α D^-½ A D^-½) y = α D^-½ A d`` (``y = D^½ s``) converges at rate ≈ (√3 − 1)/(√3 + 1) ≈ 0.27
per iteration for α = 0.5, against 0.5 for Jacobi. The CG residual gives the engine's residual
``r = αP(d + s) − s`` for free (``r = D^-½ r_cg``), so the stopping rule is the ∞-norm one the
incremental engine uses: stop when ``‖r‖∞ ≤ tol``, which guarantees ``‖s − s*‖∞ ≤ tol/(1 − α)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Edges = tuple[ArrayLike, ArrayLike] | ArrayLike

# Ids are mapped through a lookup table when they are dense enough (a gather is ~10x faster than a
# binary search on 10M endpoints); this bounds the table at a few times the number of members.
_LUT_SLACK = 8
_LUT_MIN = 1 << 16
# CG's recursive residual drifts from the true one; restarts are cheap insurance.
_MAX_RESTARTS = 3


@dataclass(frozen=True, eq=False)
class FriendGraph:
    """Active friendships as a symmetric CSR adjacency over positions ``0..n-1``.

    ``ids[i]`` is the member id at position ``i`` (sorted ascending). ``adj`` has a 1.0 for each
    direction of each friendship, sorted column indices, no duplicates, no self-loops.
    """

    ids: IntArray
    adj: sp.csr_matrix
    deg: FloatArray

    @property
    def n(self) -> int:
        return int(self.ids.size)

    @property
    def n_edges(self) -> int:
        """Undirected friendships."""
        return int(self.adj.nnz // 2)

    def positions(self, member_ids: ArrayLike) -> IntArray:
        """Positions of the given member ids (ValueError when one is unknown)."""
        return _map_ids(self.ids, np.asarray(member_ids, dtype=np.int64))


@dataclass(frozen=True)
class SolveResult:
    """``s`` at the graph's positions; ``residual`` = ‖αP(d+s) − s‖∞ (deviation points)."""

    s: FloatArray
    residual: float
    iterations: int


def _split_edges(edges: Edges) -> tuple[IntArray, IntArray]:
    if isinstance(edges, tuple) and len(edges) == 2:
        u = np.asarray(edges[0], dtype=np.int64).ravel()
        v = np.asarray(edges[1], dtype=np.int64).ravel()
    else:
        arr = np.asarray(edges, dtype=np.int64)
        if arr.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError("edges must be (u_ids, v_ids) or an (m, 2) array")
        u, v = arr[:, 0], arr[:, 1]
    if u.shape != v.shape:
        raise ValueError("edge endpoint arrays differ in length")
    return u, v


def _map_ids(ids: IntArray, values: IntArray) -> IntArray:
    """Positions of ``values`` in the sorted unique array ``ids``."""
    if values.size == 0:
        return np.empty(0, np.int64)
    if ids.size == 0:
        raise ValueError("edge endpoint is not a known member")
    lo, hi = int(ids[0]), int(ids[-1])
    span = hi - lo + 1
    if span <= max(_LUT_SLACK * ids.size, _LUT_MIN):
        lut = np.full(span, -1, dtype=np.int64)
        lut[ids - lo] = np.arange(ids.size, dtype=np.int64)
        shifted = values - lo
        if shifted.min() < 0 or shifted.max() >= span:
            raise ValueError("edge endpoint is not a known member")
        pos = lut[shifted]
        if (pos < 0).any():
            raise ValueError("edge endpoint is not a known member")
        return pos
    pos = np.searchsorted(ids, values)
    pos = np.minimum(pos, ids.size - 1)
    if (ids[pos] != values).any():
        raise ValueError("edge endpoint is not a known member")
    return pos.astype(np.int64, copy=False)


def build_graph(ids: ArrayLike, edges: Edges) -> FriendGraph:
    """Build the symmetric adjacency from member ids and undirected friendships.

    Precondition: no self-friendship (ValueError). A friendship listed twice (in either
    orientation) counts once. Cost: one int64 sort of the m edge keys (skipped when the edges
    already come sorted as (min, max) pairs) plus O(n + m) vectorised passes; about 1-2 s and
    ~1 GB peak for 1M members / 10M friendships on the 2-core machines.
    """
    id_arr = np.asarray(ids, dtype=np.int64).ravel()
    if id_arr.size > 1 and not (id_arr[1:] > id_arr[:-1]).all():
        id_arr = np.unique(id_arr)
    n = int(id_arr.size)
    u_ids, v_ids = _split_edges(edges)
    pu = _map_ids(id_arr, u_ids)
    pv = _map_ids(id_arr, v_ids)
    del u_ids, v_ids
    if (pu == pv).any():
        raise ValueError("a member cannot be their own friend")
    lo = np.minimum(pu, pv)
    hi = np.maximum(pu, pv)
    del pu, pv
    key = lo * n + hi  # n ≤ ~3e9 keeps this inside int64
    del lo, hi
    if key.size > 1 and not (key[1:] > key[:-1]).all():
        key.sort()
        keep = np.empty(key.size, dtype=bool)
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        if not keep.all():
            key = key[keep]
        del keep
    rows = (key // n).astype(np.int32)
    cols = (key - rows.astype(np.int64) * n).astype(np.int32)
    del key
    m = int(rows.size)
    index_dtype = np.int32 if 2 * m < np.iinfo(np.int32).max else np.int64

    # Upper triangle U (row < col) comes straight from the sorted keys; its transpose L (row > col)
    # from a counting sort. Each row of A is then L's row followed by U's row, which is already
    # sorted (every L column < i < every U column), so A is assembled with two monotone scatters.
    up_count = np.bincount(rows, minlength=n)
    low_count = np.bincount(cols, minlength=n)
    up_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(up_count, out=up_ptr[1:])
    low_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(low_count, out=low_ptr[1:])
    upper = sp.csr_matrix((np.ones(m, dtype=np.float64), cols, up_ptr.astype(index_dtype)), shape=(n, n))
    lower = upper.T.tocsr()  # csc -> csr: O(n + m) counting sort in C++
    del upper
    indptr = up_ptr + low_ptr
    indices = np.empty(2 * m, dtype=index_dtype)
    # entry k of L (in row i) goes to indptr[i] + (k - low_ptr[i]) = k + up_ptr[i]
    indices[np.arange(m, dtype=np.int64) + np.repeat(up_ptr[:-1], low_count)] = lower.indices
    del lower
    # entry k of U (in row i) goes to indptr[i] + low_count[i] + (k - up_ptr[i]) = k + low_ptr[i+1]
    indices[np.arange(m, dtype=np.int64) + np.repeat(low_ptr[1:], up_count)] = cols
    del cols, rows
    adj = sp.csr_matrix(
        (np.ones(2 * m, dtype=np.float64), indices, indptr.astype(index_dtype)),
        shape=(n, n),
    )
    adj.has_sorted_indices = True
    deg = (up_count + low_count).astype(np.float64)
    return FriendGraph(ids=id_arr, adj=adj, deg=deg)


def _dot(a: FloatArray, b: FloatArray) -> float:
    # einsum's own loop, not BLAS ddot: a threaded BLAS spins on the 2 busy cores and made each
    # CG step several times slower than the matvec it accompanies.
    return float(np.einsum("i,i->", a, b))


def _check_vector(x: ArrayLike, n: int, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64).ravel()
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries for {n} members")
    return arr


def _alpha_inv_deg(graph: FriendGraph, alpha: float) -> FloatArray:
    out = np.zeros(graph.n, dtype=np.float64)
    np.divide(alpha, graph.deg, out=out, where=graph.deg > 0)
    return out


def graph_residuals(graph: FriendGraph, d: ArrayLike, s: ArrayLike, alpha: float) -> FloatArray:
    """Exact ``r = αP(d + s) − s`` at the graph's positions (deviation points)."""
    d_arr = _check_vector(d, graph.n, "d")
    s_arr = _check_vector(s, graph.n, "s")
    return _alpha_inv_deg(graph, alpha) * (graph.adj @ (d_arr + s_arr)) - s_arr


def solve_jacobi(
    graph: FriendGraph,
    d: ArrayLike,
    *,
    alpha: float = 0.5,
    tol: float = 1e-6,
    s0: ArrayLike | None = None,
    max_iter: int = 10_000,
) -> SolveResult:
    """Jacobi iteration ``s ← αP(d + s)``; each step's change is the residual, so the stopping
    rule is exact. Converges geometrically at rate α in ∞-norm (P is row-stochastic)."""
    d_arr = _check_vector(d, graph.n, "d")
    scale = _alpha_inv_deg(graph, alpha)
    b = scale * (graph.adj @ d_arr)
    s = np.zeros(graph.n) if s0 is None else _check_vector(s0, graph.n, "s0").copy()
    for it in range(1, max_iter + 1):
        s_next = graph.adj @ s
        s_next *= scale
        s_next += b
        res = float(np.abs(s_next - s).max(initial=0.0))  # = ‖r(s)‖∞
        s = s_next
        if res <= tol:
            # s is one step past the point whose residual was res; its own residual ≤ α·res.
            return SolveResult(s=s, residual=alpha * res, iterations=it)
    raise RuntimeError(f"Jacobi did not reach tol={tol} in {max_iter} iterations")


def solve_cg(
    graph: FriendGraph,
    d: ArrayLike,
    *,
    alpha: float = 0.5,
    tol: float = 1e-6,
    s0: ArrayLike | None = None,
    max_iter: int = 10_000,
) -> SolveResult:
    """Conjugate gradients on the symmetric form (see module docstring); stops on the true
    ∞-norm residual ``‖αP(d+s) − s‖∞ ≤ tol`` (checked explicitly at the end)."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError("alpha must be in [0, 1)")
    d_arr = _check_vector(d, graph.n, "d")
    n = graph.n
    active = graph.deg > 0
    sq = np.sqrt(graph.deg)
    inv_sq = np.zeros(n)
    np.divide(1.0, sq, out=inv_sq, where=active)
    s = np.zeros(n) if s0 is None else _check_vector(s0, n, "s0").copy()
    s[~active] = 0.0  # no friends: the fixed point is exactly 0
    adj = graph.adj
    a_inv_sq = alpha * inv_sq
    tmp = np.empty(n)
    q = np.empty(n)

    def op(y: FloatArray, out: FloatArray) -> FloatArray:
        # M y = y − α D^-½ A D^-½ y, with preallocated buffers: at 1M members each avoided
        # temporary is a 8 MB pass, and there are ~10 per iteration besides the matvec.
        np.multiply(inv_sq, y, out=tmp)
        np.multiply(a_inv_sq, adj @ tmp, out=out)
        np.subtract(y, out, out=out)
        return out

    def inf_norm_scaled(r: FloatArray) -> float:
        np.multiply(inv_sq, r, out=tmp)
        return float(np.abs(tmp, out=tmp).max(initial=0.0))

    rhs = a_inv_sq * (adj @ d_arr)
    iterations = 0
    for _ in range(_MAX_RESTARTS + 1):
        y = sq * s
        r = rhs - op(y, q)
        res = inf_norm_scaled(r)
        if res <= tol:
            break
        p = r.copy()
        rr = _dot(r, r)
        while res > tol and iterations < max_iter:
            iterations += 1
            op(p, q)
            step = rr / _dot(p, q)
            y += np.multiply(p, step, out=tmp)
            r -= np.multiply(q, step, out=tmp)
            rr_next = _dot(r, r)
            p *= rr_next / rr
            p += r
            rr = rr_next
            res = inf_norm_scaled(r)
        s = inv_sq * y
        true_res = float(np.abs(graph_residuals(graph, d_arr, s, alpha)).max(initial=0.0))
        if true_res <= tol:
            return SolveResult(s=s, residual=true_res, iterations=iterations)
        if iterations >= max_iter:
            break
    true_res = float(np.abs(graph_residuals(graph, d_arr, s, alpha)).max(initial=0.0))
    if true_res <= tol:
        return SolveResult(s=s, residual=true_res, iterations=iterations)
    raise RuntimeError(f"CG did not reach tol={tol} (residual {true_res:.3g})")


Method = Literal["cg", "jacobi"]


def solve_graph(
    graph: FriendGraph,
    d: ArrayLike,
    *,
    alpha: float = 0.5,
    tol: float = 1e-6,
    s0: ArrayLike | None = None,
    method: Method = "cg",
) -> SolveResult:
    """Fixed point on a prebuilt graph; ``s0`` warm-starts (e.g. from the incremental state)."""
    if method == "cg":
        return solve_cg(graph, d, alpha=alpha, tol=tol, s0=s0)
    if method == "jacobi":
        return solve_jacobi(graph, d, alpha=alpha, tol=tol, s0=s0)
    raise ValueError(f"unknown method {method!r}")


def _graph_for(id_arr: IntArray, edges: Edges) -> tuple[FriendGraph, IntArray]:
    """Graph plus ``perm`` (graph position of ``id_arr[i]``); ids may come in any order."""
    graph = build_graph(id_arr, edges)
    if graph.n != id_arr.size:
        raise ValueError("member ids must be unique")
    return graph, graph.positions(id_arr)


def solve(
    ids: ArrayLike,
    d: ArrayLike,
    edges: Edges,
    alpha: float = 0.5,
    tol: float = 1e-6,
) -> FloatArray:
    """Social signal ``s`` for each member in ``ids`` order (deviation points, before λ and cap).

    ``d[i]`` is member ``ids[i]``'s ``base − 650``; ``edges`` are active friendships as
    ``(u_ids, v_ids)`` or an (m, 2) array. Guarantees ``‖αP(d+s) − s‖∞ ≤ tol`` and therefore
    ``‖s − s*‖∞ ≤ tol/(1 − α)``.
    """
    id_arr = np.asarray(ids, dtype=np.int64).ravel()
    d_arr = _check_vector(d, id_arr.size, "d")
    graph, perm = _graph_for(id_arr, edges)
    d_graph = np.empty(graph.n)
    d_graph[perm] = d_arr
    return solve_graph(graph, d_graph, alpha=alpha, tol=tol).s[perm]


def residuals(
    ids: ArrayLike,
    d: ArrayLike,
    s: ArrayLike,
    edges: Edges,
    alpha: float = 0.5,
) -> FloatArray:
    """Exact ``r = αP(d + s) − s`` for each member in ``ids`` order (deviation points)."""
    id_arr = np.asarray(ids, dtype=np.int64).ravel()
    d_arr = _check_vector(d, id_arr.size, "d")
    s_arr = _check_vector(s, id_arr.size, "s")
    graph, perm = _graph_for(id_arr, edges)
    d_graph = np.empty(graph.n)
    d_graph[perm] = d_arr
    s_graph = np.empty(graph.n)
    s_graph[perm] = s_arr
    return graph_residuals(graph, d_graph, s_graph, alpha)[perm]


def reconcile_deltas(
    graph: FriendGraph,
    d: ArrayLike,
    s: ArrayLike,
    *,
    alpha: float = 0.5,
    tol: float = 1e-6,
    drop: float = 0.0,
    dd: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Increments ``(ds, dr)`` that move a stored state to the global fixed point.

    Applying ``s += ds, r += dr`` (atomic increments, never absolute writes) keeps the invariant
    ``r = αP(d+s) − s`` whatever else happened concurrently on the same nodes, because
    ``dr = αP·ds − ds`` is the invariant's own linear change. Entries with ``|ds| ≤ drop`` are
    zeroed first (and ``dr`` computed from what is kept), so a reconciliation touches only members
    whose signal really moves; the cost is at most ``(1 + α)·drop`` of extra residual per member.
    Warm-started from ``s``, so it converges in a few iterations when ``s`` is already close.
    ``dd``: base changes applied in the same write (``d += dd``): the target is the fixed point
    for ``d + dd`` and ``dr`` takes their share too, ``αP·(dd + ds) − ds``.
    """
    s_arr = _check_vector(s, graph.n, "s")
    moved = np.zeros(graph.n) if dd is None else _check_vector(dd, graph.n, "dd")
    d_new = _check_vector(d, graph.n, "d") + moved
    target = solve_graph(graph, d_new, alpha=alpha, tol=tol, s0=s_arr).s
    ds = target - s_arr
    if drop > 0.0:
        ds[np.abs(ds) <= drop] = 0.0
    dr = _alpha_inv_deg(graph, alpha) * (graph.adj @ (moved + ds)) - ds
    return ds, dr


def baseline_matrix(ids: ArrayLike, edges: Edges) -> sp.csr_matrix:
    """The plain SciPy way to get P, for benchmark ratios only: ``searchsorted`` ids, COO → CSR
    with both directions, ``P = diag(1/deg)·A``. Rows follow ``ids`` order."""
    id_arr = np.asarray(ids, dtype=np.int64).ravel()
    order = np.argsort(id_arr)
    sorted_ids = id_arr[order]
    u_ids, v_ids = _split_edges(edges)
    u = order[np.searchsorted(sorted_ids, u_ids)]
    v = order[np.searchsorted(sorted_ids, v_ids)]
    n = id_arr.size
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    adj = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0  # a friendship listed twice still counts once
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros(n), where=deg > 0)
    return sp.csr_matrix(sp.diags(inv) @ adj)


def baseline_iterate(
    p: sp.csr_matrix, d: ArrayLike, alpha: float = 0.5, tol: float = 1e-6,
    max_iter: int = 10_000,
) -> tuple[FloatArray, int]:
    """Plain Jacobi ``s ← αP(d + s)`` until the step (= the residual) is ≤ tol in ∞-norm."""
    d_arr = np.asarray(d, dtype=np.float64)
    s = np.zeros(d_arr.size)
    for it in range(1, max_iter + 1):
        s_next = alpha * (p @ (d_arr + s))
        if np.abs(s_next - s).max(initial=0.0) <= tol:
            return s_next, it
        s = s_next
    raise RuntimeError("baseline Jacobi did not converge")


def baseline_jacobi(
    ids: ArrayLike,
    d: ArrayLike,
    edges: Edges,
    alpha: float = 0.5,
    tol: float = 1e-6,
) -> tuple[FloatArray, int]:
    """Plain SciPy build + Jacobi, for benchmark ratios only. Returns ``(s in ids order,
    iterations)``."""
    return baseline_iterate(baseline_matrix(ids, edges), d, alpha, tol)


__all__: Sequence[str] = (
    "FriendGraph",
    "SolveResult",
    "baseline_iterate",
    "baseline_jacobi",
    "baseline_matrix",
    "build_graph",
    "graph_residuals",
    "reconcile_deltas",
    "residuals",
    "solve",
    "solve_cg",
    "solve_graph",
    "solve_jacobi",
)
