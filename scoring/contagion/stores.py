"""In-process stores implementing ``ContagionStore``: the reference the tests and benchmarks use.

``MemoryStore`` is dict-backed and fully dynamic (members and friendships come and go).
``ArrayStore`` keeps a fixed member set in numpy arrays with a CSR adjacency (friendship changes go
to a small per-member override), so a 1M-member / 10M-friendship graph fits in a few hundred MB.
Both are single-threaded: "atomic" here means each method completes before the next starts, which
is what the concurrency tests interleave around.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from .engine import Delta, EdgeFold, NodeState, Snapshot, StaleState
from .solve import Edges, FriendGraph, build_graph, graph_residuals


def _check_pair(u: int, v: int) -> None:
    if u == v:
        raise ValueError("a member cannot be their own friend")


class MemoryStore:
    """Dict-backed store. ``check_versions=False`` disables the friendship-race guard (only to
    show, in a test, what the guard prevents)."""

    def __init__(self, *, check_versions: bool = True) -> None:
        self.s: dict[int, float] = {}
        self.r: dict[int, float] = {}
        self.d: dict[int, float] = {}
        self.version: dict[int, int] = {}
        self.adj: dict[int, set[int]] = {}
        self.check_versions = check_versions
        self.calls: dict[str, int] = {"load": 0, "neighbours": 0, "apply": 0, "change_edge": 0}

    @classmethod
    def from_graph(
        cls,
        ids: ArrayLike,
        d: ArrayLike,
        edges: Edges,
        *,
        alpha: float = 0.5,
        s: ArrayLike | None = None,
    ) -> Self:
        """Store with the given members/friendships and ``s`` (default 0); ``r`` is computed
        exactly from the invariant, so any ``s`` (e.g. a global solve) is a valid start."""
        store = cls()
        graph = build_graph(ids, edges)
        id_list = graph.ids.tolist()
        pos = graph.positions(np.asarray(ids, dtype=np.int64))
        d_g = np.empty(graph.n)
        d_g[pos] = np.asarray(d, dtype=np.float64)
        s_g = np.zeros(graph.n)
        if s is not None:
            s_g[pos] = np.asarray(s, dtype=np.float64)
        r_g = graph_residuals(graph, d_g, s_g, alpha)
        indptr, indices = graph.adj.indptr, graph.adj.indices
        for i, member in enumerate(id_list):
            store.s[member] = float(s_g[i])
            store.r[member] = float(r_g[i])
            store.d[member] = float(d_g[i])
            store.version[member] = 0
            store.adj[member] = {id_list[j] for j in indices[indptr[i] : indptr[i + 1]].tolist()}
        return store

    def add_member(self, member_id: int, d: float = 0.0) -> None:
        """A new member has no friends, so s = 0 and r = 0 satisfy the invariant."""
        if member_id in self.s:
            raise ValueError(f"member {member_id} exists")
        self.s[member_id] = 0.0
        self.r[member_id] = 0.0
        self.d[member_id] = float(d)
        self.version[member_id] = 0
        self.adj[member_id] = set()

    # -- ContagionStore -------------------------------------------------------------------
    def load(self, ids: Collection[int]) -> dict[int, NodeState]:
        self.calls["load"] += 1
        return {i: NodeState(self.s[i], self.r[i], self.d[i], len(self.adj[i]), self.version[i]) for i in ids}

    def neighbours(self, ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        self.calls["neighbours"] += 1
        return {i: tuple(self.adj[i]) for i in ids}

    def apply(
        self, deltas: Mapping[int, Delta], versions: Mapping[int, int]
    ) -> dict[int, tuple[float, float]]:
        self.calls["apply"] += 1
        if self.check_versions:
            stale = [i for i, ver in versions.items() if self.version[i] != ver]
            if stale:
                raise StaleState(stale)
        out: dict[int, tuple[float, float]] = {}
        for i, (ds, dr, dd) in deltas.items():
            self.s[i] += ds
            self.r[i] += dr
            if dd:
                self.d[i] += dd
                self.version[i] += 1  # a base change conflicts with a concurrent one (base_set)
            out[i] = (self.s[i], self.r[i])
        return out

    def change_edge(self, u: int, v: int, *, add: bool, fold: EdgeFold) -> dict[int, tuple[float, float]]:
        self.calls["change_edge"] += 1
        _check_pair(u, v)
        linked = v in self.adj[u]
        if add and linked:
            raise ValueError(f"{u} and {v} are already friends")
        if not add and not linked:
            raise ValueError(f"{u} and {v} are not friends")
        states = self.load((u, v))
        dr_u, dr_v = fold(states[u], states[v])
        self.r[u] += dr_u
        self.r[v] += dr_v
        if add:
            self.adj[u].add(v)
            self.adj[v].add(u)
        else:
            self.adj[u].discard(v)
            self.adj[v].discard(u)
        self.version[u] += 1
        self.version[v] += 1
        return {u: (self.s[u], self.r[u]), v: (self.s[v], self.r[v])}

    # -- whole-graph views ------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        ids = np.fromiter(self.s.keys(), dtype=np.int64, count=len(self.s))
        us = [u for u, nb in self.adj.items() for v in nb if u < v]
        vs = [v for u, nb in self.adj.items() for v in nb if u < v]
        return Snapshot(
            ids=ids,
            d=np.array([self.d[i] for i in ids.tolist()]),
            s=np.array([self.s[i] for i in ids.tolist()]),
            r=np.array([self.r[i] for i in ids.tolist()]),
            versions=np.array([self.version[i] for i in ids.tolist()], dtype=np.int64),
            edges=(np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64)),
        )

    def member_count(self) -> int:
        return len(self.s)

    def invariant_error(self, alpha: float = 0.5) -> float:
        """max |r − (αP(d+s) − s)| over members (deviation points), computed from scratch."""
        worst = 0.0
        for u, nb in self.adj.items():
            expected = alpha * sum(self.d[w] + self.s[w] for w in nb) / len(nb) - self.s[u] if nb else -self.s[u]
            worst = max(worst, abs(self.r[u] - expected))
        return worst

    def max_residual(self) -> float:
        return max((abs(x) for x in self.r.values()), default=0.0)


class ArrayStore:
    """Fixed members ``0..n-1`` in numpy arrays over a prebuilt ``FriendGraph`` (positions are the
    member ids). Friendship changes move the two members into a dict override."""

    def __init__(
        self, graph: FriendGraph, d: ArrayLike, *, alpha: float = 0.5, s: ArrayLike | None = None
    ) -> None:
        n = graph.n
        if not np.array_equal(graph.ids, np.arange(n)):
            raise ValueError("ArrayStore wants member ids 0..n-1")
        self.n = n
        self.indptr = graph.adj.indptr
        self.indices = graph.adj.indices
        self.d = np.asarray(d, dtype=np.float64).copy()
        self.s = np.zeros(n) if s is None else np.asarray(s, dtype=np.float64).copy()
        self.r = graph_residuals(graph, self.d, self.s, alpha)
        self.deg = np.diff(self.indptr).astype(np.int64)
        self.version = np.zeros(n, dtype=np.int64)
        self.override: dict[int, set[int]] = {}
        self.calls: dict[str, int] = {"load": 0, "neighbours": 0, "apply": 0, "change_edge": 0}

    def _nbrs(self, i: int) -> tuple[int, ...]:
        if i in self.override:
            return tuple(self.override[i])
        return tuple(self.indices[self.indptr[i] : self.indptr[i + 1]].tolist())

    def load(self, ids: Collection[int]) -> dict[int, NodeState]:
        self.calls["load"] += 1
        idx = np.fromiter(ids, dtype=np.int64, count=len(ids))
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise KeyError("unknown member")
        rows = zip(
            idx.tolist(),
            self.s[idx].tolist(),
            self.r[idx].tolist(),
            self.d[idx].tolist(),
            self.deg[idx].tolist(),
            self.version[idx].tolist(),
            strict=True,
        )
        return {i: NodeState(s, r, d, k, ver) for i, s, r, d, k, ver in rows}

    def neighbours(self, ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        self.calls["neighbours"] += 1
        return {i: self._nbrs(i) for i in ids}

    def apply(
        self, deltas: Mapping[int, Delta], versions: Mapping[int, int]
    ) -> dict[int, tuple[float, float]]:
        self.calls["apply"] += 1
        stale = [i for i, ver in versions.items() if int(self.version[i]) != ver]
        if stale:
            raise StaleState(stale)
        idx = np.fromiter(deltas.keys(), dtype=np.int64, count=len(deltas))
        arr = np.array(list(deltas.values()), dtype=np.float64).reshape(-1, 3)
        # ids in one batch are distinct, so fancy-index += is exact
        self.s[idx] += arr[:, 0]
        self.r[idx] += arr[:, 1]
        self.d[idx] += arr[:, 2]
        return dict(
            zip(idx.tolist(), zip(self.s[idx].tolist(), self.r[idx].tolist(), strict=True), strict=True)
        )

    def change_edge(self, u: int, v: int, *, add: bool, fold: EdgeFold) -> dict[int, tuple[float, float]]:
        self.calls["change_edge"] += 1
        _check_pair(u, v)
        for i in (u, v):
            if i not in self.override:
                self.override[i] = set(self._nbrs(i))
        linked = v in self.override[u]
        if add == linked:
            raise ValueError(f"friendship {u}-{v} is {'already' if linked else 'not'} active")
        states = self.load((u, v))
        dr_u, dr_v = fold(states[u], states[v])
        self.r[u] += dr_u
        self.r[v] += dr_v
        if add:
            self.override[u].add(v)
            self.override[v].add(u)
        else:
            self.override[u].discard(v)
            self.override[v].discard(u)
        for i in (u, v):
            self.deg[i] = len(self.override[i])
            self.version[i] += 1
        return {u: (float(self.s[u]), float(self.r[u])), v: (float(self.s[v]), float(self.r[v]))}

    def snapshot(self) -> Snapshot:
        rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))
        cols = self.indices.astype(np.int64)
        if self.override:
            gone = np.zeros(self.n, dtype=bool)
            gone[list(self.override)] = True
            keep = ~gone[rows]
            extra = [(u, v) for u, nb in self.override.items() for v in nb]
            eu = np.array([e[0] for e in extra], dtype=np.int64)
            ev = np.array([e[1] for e in extra], dtype=np.int64)
            rows = np.concatenate([rows[keep], eu])
            cols = np.concatenate([cols[keep], ev])
        upper = rows < cols  # each friendship once
        return Snapshot(
            ids=np.arange(self.n, dtype=np.int64),
            d=self.d.copy(),
            s=self.s.copy(),
            r=self.r.copy(),
            versions=self.version.copy(),
            edges=(rows[upper], cols[upper]),
        )

    def member_count(self) -> int:
        return self.n


__all__ = ["ArrayStore", "MemoryStore"]
