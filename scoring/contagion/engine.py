"""Incremental friend-contagion engine (DESIGN §3), storage-agnostic.

Units: ``d`` (own deviation, ``base − 650``), ``s`` (social signal) and ``r`` (residual) are in
deviation points; social *points* are ``clamp(λ·s, −C, C)``. ε is a residual threshold in
deviation points: once every ``|r| ≤ ε``, ``‖s − s*‖∞ ≤ ε/(1 − α)`` and the shown social points are
off by at most ``λ·ε/(1 − α)`` (0.05 points at the defaults).

Invariant, per member u with k active friends N(u)::

    r_u = α/k · Σ_{w∈N(u)} (d_w + s_w) − s_u        (k = 0: r_u = −s_u)

It is linear in (d, s, r), so it survives any *increment* ``s += ds, r += dr`` that is itself
consistent — in particular a push of any amount x at u (``s_u += x, r_u −= x``, each friend w gets
``r_w += α·x/deg(w)``). The store therefore applies every change as an atomic increment, never as
an absolute write: propagations by several workers commute, and a worker that pushed a stale
residual only leaves an overshoot residual behind, which is pushed again (here, or by whoever sees
it). A residual at or below ε waits in the store; it is never discarded.

The one thing increments cannot make commute is a *friendship change* racing a push: the push
spreads with the neighbour list and degrees it read. Each member therefore carries a ``version``
that the store bumps on every friendship change; ``apply`` refuses (``StaleState``) a batch that
touches a member whose version moved since it was read, and the engine recomputes the round from
fresh reads. In SQL that is a conditional ``UPDATE … WHERE id = %s AND version = %s`` per row inside
one transaction with a row-count check (STYLE §6). ``change_edge`` must read both endpoints under
a lock (ordered row locks), fold, write the friendship and bump both versions in one transaction.

Flow of one call (``base_changed`` / ``edge_added`` / ``edge_removed`` / ``propagate``): load the
seeds' state, push locally in FIFO order while ``|r| > ε`` and the work budget lasts, loading
neighbour lists and friends' states lazily in batches (one round trip per wave), then hand the
store every touched member's accumulated ``(ds, dr, dd)`` in one ``apply``. The store returns the
resulting ``(s, r)``; any member whose stored ``|r|`` is still above ε (concurrent activity) seeds
another round. Work beyond ``Params.budget`` edge visits is returned as ``overflow`` for the
batched global solve (``reconcile``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from .solve import build_graph, reconcile_deltas


class NodeState(NamedTuple):
    """One member's contagion row: ``s``, ``r``, ``d`` in deviation points, ``deg`` active friends,
    ``version`` bumped by the store on every friendship change of this member."""

    s: float
    r: float
    d: float
    deg: int
    version: int


class Delta(NamedTuple):
    """Increments for one member (deviation points): ``s += ds, r += dr, d += dd``."""

    ds: float = 0.0
    dr: float = 0.0
    dd: float = 0.0


class StaleState(Exception):
    """``apply`` found members whose version moved since they were read; nothing was applied."""

    def __init__(self, nodes: Iterable[int]) -> None:
        self.nodes = frozenset(nodes)
        super().__init__(f"stale contagion state for members {sorted(self.nodes)[:10]}")


class ContagionConflict(RuntimeError):
    """A round kept meeting concurrent friendship changes (``Params.max_conflicts`` retries);
    nothing of that round was applied, so the caller's task can simply retry."""


# fold(state_u, state_v) -> (dr_u, dr_v); called by the store with both rows read consistently
EdgeFold = Callable[[NodeState, NodeState], tuple[float, float]]


class Snapshot(NamedTuple):
    """Whole-graph state for the global solve; arrays are aligned with ``ids``."""

    ids: NDArray[np.int64]
    d: NDArray[np.float64]
    s: NDArray[np.float64]
    r: NDArray[np.float64]
    versions: NDArray[np.int64]
    edges: tuple[NDArray[np.int64], NDArray[np.int64]]


class ContagionStore(Protocol):
    """What the engine needs from storage. Every method may be called with ids in any order."""

    def load(self, ids: Collection[int]) -> dict[int, NodeState]:
        """Current rows (KeyError for an unknown member)."""
        ...

    def neighbours(self, ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        """Active friends. The engine always reads a member's state before its neighbours, so a
        version check on the state also covers the neighbour list."""
        ...

    def apply(
        self, deltas: Mapping[int, Delta], versions: Mapping[int, int]
    ) -> dict[int, tuple[float, float]]:
        """Atomically, all or nothing: check every ``versions[i]`` (raise ``StaleState``), then
        ``s += ds, r += dr, d += dd`` for each member; return the resulting ``(s, r)`` of each."""
        ...

    def change_edge(self, u: int, v: int, *, add: bool, fold: EdgeFold) -> dict[int, tuple[float, float]]:
        """Atomically: read u and v consistently (locked), ``dr_u, dr_v = fold(u_state,
        v_state)``, apply ``r += dr`` to both, add/remove the friendship, bump both versions;
        return both members' new ``(s, r)``. ValueError when adding an existing friendship,
        removing a missing one, or ``u == v``."""
        ...


class SnapshotStore(ContagionStore, Protocol):
    def snapshot(self) -> Snapshot:
        """A consistent read of every member's row and every active friendship."""
        ...


@dataclass(frozen=True)
class Params:
    """Contagion constants (DESIGN §3). ``eps`` in deviation points; ``budget`` in edge visits per
    call (a push at u costs deg(u)); ``max_conflicts`` bounds retries after ``StaleState``."""

    alpha: float = 0.5
    lam: float = 0.25
    cap: float = 60.0
    eps: float = 0.1
    budget: int = 50_000
    max_conflicts: int = 8

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError("alpha must be in [0, 1)")
        if self.eps <= 0.0:
            raise ValueError("eps must be positive")

    @property
    def error_bound(self) -> float:
        """Guaranteed ‖s − s*‖∞ once every |r| ≤ ε (deviation points)."""
        return self.eps / (1.0 - self.alpha)


DEFAULT_PARAMS = Params()


def social_points(s: float, params: Params = DEFAULT_PARAMS) -> float:
    """Social points shown for signal ``s``: ``clamp(λ·s, −C, C)`` (points, unrounded)."""
    return max(-params.cap, min(params.cap, params.lam * s))


@dataclass
class PropagationReport:
    """What one engine call did.

    ``changes[i] = (s_before, s_after)`` for each member whose ``s`` this call moved, as read
    from / returned by the store (under concurrency "before" may already include another worker's
    push, so a ledger should diff against the points it last recorded, see ``point_changes``).
    ``overflow``: members still above ε when the budget ran out, for ``reconcile``.
    """

    nodes_touched: int = 0
    edge_visits: int = 0
    pushes: int = 0
    rounds: int = 0
    conflicts: int = 0
    round_trips: int = 0
    overflow: set[int] = field(default_factory=set)
    changes: dict[int, tuple[float, float]] = field(default_factory=dict)

    def point_changes(self, params: Params = DEFAULT_PARAMS) -> dict[int, tuple[float, float]]:
        """``{member: (old_points, new_points)}`` where the shown social points moved."""
        out: dict[int, tuple[float, float]] = {}
        for member, (before, after) in self.changes.items():
            old, new = social_points(before, params), social_points(after, params)
            if old != new:
                out[member] = (old, new)
        return out

    def merge(self, other: PropagationReport) -> None:
        self.edge_visits += other.edge_visits
        self.pushes += other.pushes
        self.rounds += other.rounds
        self.conflicts += other.conflicts
        self.round_trips += other.round_trips
        self.nodes_touched += other.nodes_touched
        self.overflow |= other.overflow
        for member, (before, after) in other.changes.items():
            first = self.changes.get(member, (before, after))[0]
            self.changes[member] = (first, after)


class _Round:
    """One optimistic round: a local working set of loaded rows plus accumulated increments."""

    __slots__ = (
        "alpha",
        "dd",
        "deferred",
        "dr",
        "ds",
        "eps",
        "nbrs",
        "pushes",
        "r",
        "round_trips",
        "state",
        "store",
        "visits",
    )

    def __init__(self, store: ContagionStore, params: Params) -> None:
        self.store = store
        self.alpha = params.alpha
        self.eps = params.eps
        self.state: dict[int, NodeState] = {}
        self.r: dict[int, float] = {}  # local view: loaded r + this round's increments
        self.nbrs: dict[int, tuple[int, ...]] = {}
        self.ds: dict[int, float] = {}
        self.dr: dict[int, float] = {}
        self.dd: dict[int, float] = {}
        self.visits = 0
        self.pushes = 0
        self.round_trips = 0
        self.deferred: set[int] = set()

    def ensure(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.state]
        if missing:
            self.round_trips += 1
            loaded = self.store.load(missing)
            for i, st in loaded.items():
                self.state[i] = st
                self.r[i] = st.r

    def ensure_neighbours(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.nbrs]
        if not missing:
            return
        self.round_trips += 1
        got = self.store.neighbours(missing)
        self.nbrs.update(got)
        self.ensure({w for i in missing for w in got[i]})

    def spread(self, u: int, amount: float) -> Iterable[int]:
        """``r_w += α·amount/deg(w)`` for each friend w of u; yields friends now above ε."""
        share = self.alpha * amount
        r, dr, eps = self.r, self.dr, self.eps
        for w in self.nbrs[u]:
            inc = share / self.state[w].deg
            rw = r[w] + inc
            r[w] = rw
            dr[w] = dr.get(w, 0.0) + inc
            if rw > eps or rw < -eps:
                yield w
        self.visits += len(self.nbrs[u])

    def base_change(self, v: int, delta_d: float, *, absolute: bool = False) -> list[int]:
        """Move d_v by ``delta_d`` — or, with ``absolute``, to ``delta_d`` from this round's fresh
        read (so a retried round never applies a base change twice)."""
        self.ensure((v,))
        self.ensure_neighbours((v,))
        if absolute:
            delta_d -= self.state[v].d
        self.dd[v] = self.dd.get(v, 0.0) + delta_d
        list(self.spread(v, delta_d))
        return list(self.nbrs[v])

    def push_all(self, seeds: Iterable[int], budget: int) -> None:
        """FIFO push of every member above ε, within ``budget`` edge visits for the round."""
        self.ensure(seeds)
        eps = self.eps
        queue: deque[int] = deque()
        queued: set[int] = set()
        for u in seeds:
            if abs(self.r[u]) > eps and u not in queued:
                queue.append(u)
                queued.add(u)
        r, ds, dr, state, nbrs = self.r, self.ds, self.dr, self.state, self.nbrs
        while queue:
            u = queue.popleft()
            queued.discard(u)
            ru = r[u]
            if -eps <= ru <= eps:
                continue
            k = state[u].deg
            if self.visits + k > budget:
                # too big for what is left (a hub, typically): the global solve takes it
                self.deferred.add(u)
                continue
            if u not in nbrs:
                self._prefetch(u, queue, budget)
            ds[u] = ds.get(u, 0.0) + ru
            dr[u] = dr.get(u, 0.0) - ru
            r[u] = 0.0
            self.pushes += 1
            if k:
                for w in self.spread(u, ru):
                    if w not in queued:
                        queue.append(w)
                        queued.add(w)
        self.deferred = {u for u in self.deferred if abs(r[u]) > eps}

    def _prefetch(self, u: int, queue: deque[int], budget: int) -> None:
        # One round trip for the whole wave: u plus queued members that still need their friends,
        # as far as the remaining budget could push them.
        room = budget - self.visits - self.state[u].deg
        batch = [u]
        for w in queue:
            if w not in self.nbrs and w != u:
                k = self.state[w].deg
                if k > room:
                    continue
                room -= k
                batch.append(w)
        self.ensure_neighbours(batch)

    def deltas(self) -> dict[int, Delta]:
        keys = self.ds.keys() | self.dr.keys() | self.dd.keys()
        return {i: Delta(self.ds.get(i, 0.0), self.dr.get(i, 0.0), self.dd.get(i, 0.0)) for i in keys}


def _drive(
    store: ContagionStore,
    params: Params,
    seeds: Iterable[int],
    base: tuple[int, float] | None = None,
    absolute: bool = False,
    bases: Mapping[int, float] | None = None,
) -> PropagationReport:
    report = PropagationReport()
    pending = set(seeds)
    conflicts_in_a_row = 0
    touched: set[int] = set()
    changes: dict[int, float] | None = dict(bases) if bases else None
    if base is not None:
        changes = {base[0]: base[1]}
    while pending or changes is not None:
        rnd = _Round(store, params)
        try:
            if changes is not None:
                rnd.ensure(changes)
                rnd.ensure_neighbours(changes)
                for member_id, value in changes.items():
                    pending |= set(rnd.base_change(member_id, value, absolute=absolute))
            rnd.push_all(pending, params.budget - report.edge_visits)
            deltas = rnd.deltas()
            result: dict[int, tuple[float, float]] = {}
            if deltas:
                versions = {i: rnd.state[i].version for i in deltas}
                rnd.round_trips += 1
                result = store.apply(deltas, versions)
        except StaleState:
            report.conflicts += 1
            report.round_trips += rnd.round_trips
            conflicts_in_a_row += 1
            if conflicts_in_a_row > params.max_conflicts:
                raise ContagionConflict(
                    f"{conflicts_in_a_row} concurrent friendship changes in a row"
                ) from None
            continue  # nothing was applied: redo the same round from fresh reads
        conflicts_in_a_row = 0
        changes = None
        report.rounds += 1
        report.edge_visits += rnd.visits
        report.pushes += rnd.pushes
        report.round_trips += rnd.round_trips
        touched.update(rnd.state)
        for i, (s_after, _) in result.items():
            if rnd.ds.get(i, 0.0) != 0.0 or i in report.changes:
                first = report.changes[i][0] if i in report.changes else rnd.state[i].s
                report.changes[i] = (first, s_after)
        eps = params.eps
        pending = {i for i, (_, r) in result.items() if abs(r) > eps} | rnd.deferred
        if rnd.pushes == 0 or report.edge_visits >= params.budget:
            break
    report.nodes_touched = len(touched)
    report.overflow = pending
    return report


def propagate(
    store: ContagionStore, seeds: Iterable[int], params: Params = DEFAULT_PARAMS
) -> PropagationReport:
    """Push from ``seeds`` (and whatever they wake) until every touched |r| ≤ ε or the budget is
    spent. Seeds at or below ε are simply skipped, so any set of ids is a valid argument."""
    return _drive(store, params, seeds)


def base_changed(
    store: ContagionStore, member_id: int, delta_d: float, params: Params = DEFAULT_PARAMS
) -> PropagationReport:
    """Member's base moved by ``delta_d`` points (so d moves by the same): ``d += Δ`` and each
    friend w gets ``r_w += α·Δ/deg(w)`` in the same atomic batch as the pushes that follow."""
    if delta_d == 0.0:
        return PropagationReport()
    return _drive(store, params, (), base=(member_id, float(delta_d)))


def base_set(
    store: ContagionStore, member_id: int, target_d: float, params: Params = DEFAULT_PARAMS
) -> PropagationReport:
    """Member's deviation becomes ``target_d`` (= base − 650): like ``base_changed`` with the delta
    taken from each round's fresh read of d. Stores bump a member's version when its d moves, so
    two workers syncing the same member's base conflict (``StaleState``) and the retry finds
    nothing left to do — a base change is folded in exactly once."""
    return _drive(store, params, (), base=(member_id, float(target_d)), absolute=True)


def bases_set(
    store: ContagionStore, targets: Mapping[int, float], params: Params = DEFAULT_PARAMS
) -> PropagationReport:
    """``base_set`` for many members in one propagation: every d moves to its target in the
    first round, then one push wave serves them all (neighbourhoods that overlap are pushed once),
    and the batch reaches the store in as few ``apply`` calls as possible."""
    if not targets:
        return PropagationReport()
    return _drive(store, params, (), absolute=True, bases={m: float(t) for m, t in targets.items()})


def fold_edge_added(alpha: float) -> EdgeFold:
    """Residual changes when friendship (u, v) becomes active.

    With k friends, ``r_u + s_u = α·A_u/k`` (A_u = Σ_{w∈N(u)} x_w, x_w = d_w + s_w). After adding
    v: ``r'_u + s_u = α(A_u + x_v)/(k+1)``, so ``Δr_u = (α·x_v − (r_u + s_u))/(k + 1)``; for k = 0
    (``r_u + s_u = 0``) this is ``α·x_v``, as it should be. Only rows u and v of P change.
    """

    def fold(su: NodeState, sv: NodeState) -> tuple[float, float]:
        dr_u = (alpha * (sv.d + sv.s) - (su.r + su.s)) / (su.deg + 1)
        dr_v = (alpha * (su.d + su.s) - (sv.r + sv.s)) / (sv.deg + 1)
        return dr_u, dr_v

    return fold


def fold_edge_removed(alpha: float) -> EdgeFold:
    """Residual changes when friendship (u, v) stops counting (unfriend, freeze, moderator cut).

    ``r'_u + s_u = (k(r_u + s_u) − α·x_v)/(k − 1)``, so ``Δr_u = ((r_u + s_u) − α·x_v)/(k − 1)``;
    for k = 1 the row becomes empty and ``r'_u = −s_u``, i.e. ``Δr_u = −(r_u + s_u)``.
    """

    def one_side(a: NodeState, b: NodeState) -> float:
        if a.deg <= 1:
            return -(a.r + a.s)
        return ((a.r + a.s) - alpha * (b.d + b.s)) / (a.deg - 1)

    def fold(su: NodeState, sv: NodeState) -> tuple[float, float]:
        return one_side(su, sv), one_side(sv, su)

    return fold


def _edge_changed(store: ContagionStore, u: int, v: int, add: bool, params: Params) -> PropagationReport:
    fold = fold_edge_added(params.alpha) if add else fold_edge_removed(params.alpha)
    store.change_edge(u, v, add=add, fold=fold)
    report = _drive(store, params, (u, v))
    report.round_trips += 1
    return report


def edge_added(store: ContagionStore, u: int, v: int, params: Params = DEFAULT_PARAMS) -> PropagationReport:
    """Friendship (u, v) became active for contagion: fold it into r_u, r_v, then propagate."""
    return _edge_changed(store, u, v, True, params)


def edge_removed(store: ContagionStore, u: int, v: int, params: Params = DEFAULT_PARAMS) -> PropagationReport:
    """Friendship (u, v) stopped counting: fold it out of r_u, r_v, then propagate."""
    return _edge_changed(store, u, v, False, params)


def reconcile(
    store: SnapshotStore,
    params: Params = DEFAULT_PARAMS,
    *,
    tol: float | None = None,
    drop: float | None = None,
) -> PropagationReport:
    """Batched global solve (nightly reconciliation, or the overflow of budgeted pushes).

    Solves the whole fixed point warm-started from the stored ``s`` and applies the difference as
    increments (``ds = s* − s``, ``dr = αP·ds − ds``), so concurrent pushes are never lost.
    Defaults: ``tol = ε/10`` and ``drop = ε/100`` (changes of s below that are skipped), which
    leaves every |r| ≤ ε/10 + 1.5·ε/100 < ε. A final ``propagate`` mops up concurrent activity.
    """
    tol = params.eps / 10 if tol is None else tol
    drop = params.eps / 100 if drop is None else drop
    report = PropagationReport()
    for _ in range(params.max_conflicts + 1):
        snap = store.snapshot()
        graph = build_graph(snap.ids, snap.edges)
        pos = graph.positions(snap.ids)
        d = np.empty(graph.n)
        d[pos] = snap.d
        s = np.empty(graph.n)
        s[pos] = snap.s
        ds, dr = reconcile_deltas(graph, d, s, alpha=params.alpha, tol=tol, drop=drop)
        changed = np.flatnonzero((ds != 0.0) | (dr != 0.0))
        member_ids = graph.ids[changed].tolist()
        deltas = {
            m: Delta(a, b)
            for m, a, b in zip(member_ids, ds[changed].tolist(), dr[changed].tolist(), strict=True)
        }
        version_of = dict(zip(snap.ids.tolist(), snap.versions.tolist(), strict=True))
        try:
            result = store.apply(deltas, {m: version_of[m] for m in deltas}) if deltas else {}
        except StaleState:
            report.conflicts += 1
            continue
        s_before = dict(zip(snap.ids.tolist(), snap.s.tolist(), strict=True))
        report.rounds += 1
        report.nodes_touched = len(deltas)
        report.changes = {m: (s_before[m], result[m][0]) for m in deltas if deltas[m].ds != 0.0}
        leftover = [m for m, (_, r) in result.items() if abs(r) > params.eps]
        if leftover:
            report.merge(propagate(store, leftover, params))
        return report
    raise ContagionConflict("reconcile kept meeting concurrent friendship changes")


__all__ = [
    "DEFAULT_PARAMS",
    "ContagionConflict",
    "ContagionStore",
    "Delta",
    "EdgeFold",
    "NodeState",
    "Params",
    "PropagationReport",
    "Snapshot",
    "SnapshotStore",
    "StaleState",
    "base_changed",
    "base_set",
    "bases_set",
    "edge_added",
    "edge_removed",
    "fold_edge_added",
    "fold_edge_removed",
    "propagate",
    "reconcile",
    "social_points",
]
