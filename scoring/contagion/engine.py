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
seeds' state, then push locally in waves while some ``|r| > ε`` and the work budget lasts. A wave
pushes every loaded member above ε at once — the smallest degrees first when the budget cannot
take them all (a hub that does not fit is deferred), in slices of the largest residuals first, so
later slices also push what earlier ones added — and fetches the friend lists and friends' states
it reaches for the first time in one round trip. The round then hands the store every touched
member's accumulated ``(ds, dr, dd)`` in one ``apply``. The store returns the resulting
``(s, r)``; any member whose stored ``|r|`` is still above ε (concurrent activity) seeds another
round. Work beyond ``Params.budget`` edge visits is returned as ``overflow`` for the batched
global solve (``reconcile``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from scoring.contagion.solve import FriendGraph, build_graph, reconcile_deltas
from scoring.model.params import PARAMS as MODEL


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
    """Whole-graph state for the global solve; arrays are aligned with ``ids``. ``graph``: the
    adjacency, when the store has it built already (it caches it); ``edges`` are then empty."""

    ids: NDArray[np.int64]
    d: NDArray[np.float64]
    s: NDArray[np.float64]
    r: NDArray[np.float64]
    versions: NDArray[np.int64]
    edges: tuple[NDArray[np.int64], NDArray[np.int64]]
    graph: FriendGraph | None = None


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


@runtime_checkable
class SnapshotStore(ContagionStore, Protocol):
    def snapshot(self) -> Snapshot:
        """A consistent read of every member's row and every active friendship."""
        ...

    def member_count(self) -> int:
        """How many members have a row (may be a recent estimate: it only picks a strategy)."""
        ...


@dataclass(frozen=True)
class Params:
    """Contagion constants (DESIGN §3): ``alpha``, ``lam``, ``cap`` and ``eps`` default to the
    model's (``ScoringParams.contagion_*``). ``eps`` in deviation points; ``budget`` in edge
    visits per call (a push at u costs deg(u)); ``max_conflicts`` bounds retries after
    ``StaleState``; ``solve_share``: a batch of base changes for at least this share of all
    members is applied by one warm-started global solve instead of pushes (``bases_set``; 0
    disables it)."""

    alpha: float = MODEL.contagion_alpha
    lam: float = MODEL.contagion_lambda
    cap: float = MODEL.contagion_cap
    eps: float = MODEL.contagion_eps
    budget: int = 50_000
    max_conflicts: int = 8
    solve_share: float = 0.0

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


class Expansion(NamedTuple):
    """What ``ExpandingStore.expand`` returns, all read in one consistent snapshot.

    ``src[i]``–``dst[i]`` are the active friendships of the requested members (``src`` a requested
    member, ``dst`` its friend; each friendship once per requested endpoint). ``ids`` and the
    aligned ``s, r, d, deg, version`` are the rows of the requested members *and* of all their
    friends, each member once.
    """

    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    ids: NDArray[np.int64]
    s: NDArray[np.float64]
    r: NDArray[np.float64]
    d: NDArray[np.float64]
    deg: NDArray[np.int64]
    version: NDArray[np.int64]


class ExpandingStore(ContagionStore, Protocol):
    """A store that can serve a whole push wave in one round trip (optional capability)."""

    def expand(self, ids: NDArray[np.int64]) -> Expansion:
        """Friend lists of ``ids`` with the rows of ``ids`` and of every friend (KeyError for an
        unknown member). One snapshot covers states and lists, so the version check in
        ``apply`` also covers the lists, as with ``load`` then ``neighbours``."""
        ...


# Member ids below this are indexed through a dense array (ids are database keys); anything
# else falls back to a dict.
_DENSE_IDS = 1 << 26
# A wave is pushed in this many slices, largest residuals first: later slices push what the
# earlier ones added too (as a FIFO queue would), which keeps the work of Gauss–Seidel order.
_SLICES = 8
# A batch smaller than this always pushes (no member count asked for: single changes stay cheap).
_SOLVE_MIN_BATCH = 16


class _IdIndex:
    """member id -> local position, vectorised."""

    def __init__(self) -> None:
        self.dense: NDArray[np.int64] | None = np.full(1024, -1, dtype=np.int64)
        self.sparse: dict[int, int] = {}

    def get(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        if self.dense is None:
            return np.fromiter((self.sparse.get(i, -1) for i in ids.tolist()), dtype=np.int64, count=ids.size)
        out = np.full(ids.size, -1, dtype=np.int64)
        inside = (ids >= 0) & (ids < self.dense.size)
        out[inside] = self.dense[ids[inside]]
        return out

    def add(self, ids: NDArray[np.int64], positions: NDArray[np.int64]) -> None:
        if not ids.size:
            return
        if self.dense is not None and (int(ids.min()) < 0 or int(ids.max()) >= _DENSE_IDS):
            known = np.flatnonzero(self.dense >= 0)
            self.sparse = dict(zip(known.tolist(), self.dense[known].tolist(), strict=True))
            self.dense = None
        if self.dense is None:
            self.sparse.update(zip(ids.tolist(), positions.tolist(), strict=True))
            return
        top = int(ids.max())
        if top >= self.dense.size:
            grown = np.full(max(top + 1, 2 * self.dense.size), -1, dtype=np.int64)
            grown[: self.dense.size] = self.dense
            self.dense = grown
        self.dense[ids] = positions


class _Round:
    """One optimistic round over a local working set, pushed in vectorised waves.

    Every member loaded so far has a local row (its state as read, plus this round's increments
    ``ds, dr, dd``); members whose friends were fetched ("expanded") own a slice of ``dst``.
    A wave pushes *every* loaded member above ε at once: each push of amount x = r_u is an
    increment that keeps the invariant whatever the order, and each wave moves at least
    (1 − α)·ε·(members pushed) of residual mass out of the system, so the waves end. Friends are
    fetched once per member, one round trip per wave that reaches new members.
    """

    def __init__(self, store: ContagionStore, params: Params) -> None:
        self.store = store
        self.alpha = params.alpha
        self.eps = params.eps
        self.expander: Callable[[NDArray[np.int64]], Expansion] | None = getattr(store, "expand", None)
        self.index = _IdIndex()
        self.n = 0
        cap = 256
        self.ids = np.empty(cap, dtype=np.int64)
        self.s = np.empty(cap)
        self.r = np.empty(cap)  # local view: loaded r + this round's increments
        self.d = np.empty(cap)
        self.deg = np.empty(cap, dtype=np.int64)
        self.version = np.empty(cap, dtype=np.int64)
        self.ds = np.zeros(cap)
        self.dr = np.zeros(cap)
        self.dd = np.zeros(cap)
        self.touched = np.zeros(cap, dtype=bool)
        self.deferred = np.zeros(cap, dtype=bool)
        self.start = np.full(cap, -1, dtype=np.int64)  # first friend in ``dst``; -1: not expanded
        self.count = np.zeros(cap, dtype=np.int64)
        self.dst = np.empty(0, dtype=np.int64)  # friends' local positions, one slice per member
        self.visits = 0
        self.pushes = 0
        self.round_trips = 0

    # -- the working set ----------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = self.ids.size
        if need <= cap:
            return
        cap = max(need, 2 * cap)
        for name, fill in (("ids", None), ("s", None), ("r", None), ("d", None), ("deg", None),
                           ("version", None), ("ds", 0.0), ("dr", 0.0), ("dd", 0.0), ("touched", False),
                           ("deferred", False), ("start", -1), ("count", 0)):
            old = getattr(self, name)
            new = np.empty(cap, dtype=old.dtype) if fill is None else np.full(cap, fill, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def _add_rows(self, ids: NDArray[np.int64], s: NDArray[np.float64], r: NDArray[np.float64],
                  d: NDArray[np.float64], deg: NDArray[np.int64], version: NDArray[np.int64]) -> None:
        """Keep the first read of each member: its increments are relative to that read."""
        new = self.index.get(ids) < 0
        if not new.all():
            ids, deg, version = ids[new], deg[new], version[new]
            s, r, d = s[new], r[new], d[new]
        if not ids.size:
            return
        lo, hi = self.n, self.n + ids.size
        self._grow(hi)
        self.ids[lo:hi], self.s[lo:hi], self.r[lo:hi], self.d[lo:hi] = ids, s, r, d
        self.deg[lo:hi], self.version[lo:hi] = deg, version
        self.index.add(ids, np.arange(lo, hi, dtype=np.int64))
        self.n = hi

    def positions(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        pos = self.index.get(ids)
        if (pos < 0).any():
            raise KeyError(f"members not loaded: {ids[pos < 0][:10].tolist()}")
        return pos

    def load(self, ids: Iterable[int]) -> None:
        """Rows of these members (a round trip only for those not loaded yet)."""
        wanted = np.unique(np.fromiter(ids, dtype=np.int64))
        missing = wanted[self.index.get(wanted) < 0]
        if not missing.size:
            return
        self.round_trips += 1
        got = self.store.load(missing.tolist())
        self._add_states(got)

    def _add_states(self, got: Mapping[int, NodeState]) -> None:
        if not got:
            return
        cols = list(zip(*((i, *st) for i, st in got.items()), strict=True))
        self._add_rows(np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.float64),
                       np.array(cols[2], dtype=np.float64), np.array(cols[3], dtype=np.float64),
                       np.array(cols[4], dtype=np.int64), np.array(cols[5], dtype=np.int64))

    def expand(self, ids: NDArray[np.int64]) -> None:
        """Fetch the friend lists of these members (not expanded yet; loaded or not) and load the
        friends' rows: one round trip with an ``ExpandingStore``."""
        if self.expander is not None:
            self.round_trips += 1
            ex = self.expander(ids)
            self._add_rows(ex.ids, ex.s, ex.r, ex.d, ex.deg, ex.version)
            src, dst = ex.src, ex.dst
        else:
            # The protocol's order: a member's state before its friend list, then the friends'.
            self.load(ids.tolist())
            self.round_trips += 1
            got = self.store.neighbours(ids.tolist())
            lists = [got[i] for i in ids.tolist()]
            counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            src = np.repeat(ids, counts)
            dst = np.fromiter((w for nb in lists for w in nb), dtype=np.int64, count=int(counts.sum()))
            self.load(dst.tolist())
        pos = self.positions(ids)
        src_pos, dst_pos = self.positions(src), self.positions(dst)
        per_member = np.bincount(src_pos, minlength=self.n)
        first = self.dst.size + np.cumsum(per_member) - per_member
        self.start[pos] = first[pos]
        self.count[pos] = per_member[pos]
        self.dst = np.concatenate((self.dst, dst_pos[np.argsort(src_pos, kind="stable")]))

    # -- pushes -------------------------------------------------------------------------
    def spread(self, pos: NDArray[np.int64], amounts: NDArray[np.float64]) -> None:
        """``r_w += α·amount_u/deg(w)`` for each friend w of each expanded member u."""
        counts = self.count[pos]
        total = int(counts.sum())
        self.visits += total
        if not total:
            return
        ends = np.cumsum(counts)
        edge = np.repeat(self.start[pos] - (ends - counts), counts) + np.arange(total)
        dst = self.dst[edge]
        # deg ≥ 1 for anyone on a friend list; max() only keeps an inconsistent read (that
        # apply's version check refuses anyway) from dividing by zero
        inc = self.alpha * np.repeat(amounts, counts) / np.maximum(self.deg[dst], 1)
        add = np.bincount(dst, weights=inc, minlength=self.n)
        n = self.n
        self.r[:n] += add
        self.dr[:n] += add
        self.touched[dst] = True

    def base_change(self, targets: Mapping[int, float], *, absolute: bool) -> None:
        """Move each d_v by its value — or, with ``absolute``, to its value from this round's
        fresh read (so a retried round never applies a base change twice) — and spread it."""
        ids = np.fromiter(targets.keys(), dtype=np.int64, count=len(targets))
        values = np.fromiter(targets.values(), dtype=np.float64, count=len(targets))
        pos = self.index.get(ids)
        todo = pos < 0
        todo[~todo] = self.start[pos[~todo]] < 0
        if todo.any():
            self.expand(np.unique(ids[todo]))
        pos = self.positions(ids)
        delta = values - self.d[pos] if absolute else values
        self.dd[pos] += delta
        self.touched[pos] = True
        self.spread(pos, delta)

    def push_all(self, budget: int) -> None:
        """Push, wave after wave, every loaded member above ε within ``budget`` edge visits;
        a member whose degree no longer fits is deferred (a hub, typically: the global solve
        takes it)."""
        eps = self.eps
        while True:
            n = self.n
            mag = np.abs(self.r[:n])
            above = np.flatnonzero((mag > eps) & ~self.deferred[:n])
            if not above.size:
                break
            # smallest degrees first: one hub never starves a wave of ordinary members
            above = above[np.argsort(self.deg[above], kind="stable")]
            fits = np.cumsum(self.deg[above]) <= budget - self.visits
            self.deferred[above[~fits]] = True
            wave = np.sort(above[fits])
            if not wave.size:
                break
            todo = wave[self.start[wave] < 0]
            if todo.size:
                self.expand(self.ids[todo])
            order = wave[np.argsort(-np.abs(self.r[wave]), kind="stable")]
            for part in np.array_split(order, min(_SLICES, order.size)):
                part = np.sort(part[np.abs(self.r[part]) > eps])
                if not part.size:
                    continue
                x = self.r[part].copy()
                self.ds[part] += x
                self.dr[part] -= x
                self.r[part] = 0.0
                self.touched[part] = True
                self.pushes += int(part.size)
                self.spread(part, x)

    def deferred_above(self) -> set[int]:
        n = self.n
        mask = self.deferred[:n] & (np.abs(self.r[:n]) > self.eps)
        return set(self.ids[:n][mask].tolist())

    def deltas(self) -> dict[int, Delta]:
        pos = np.flatnonzero(self.touched[: self.n])
        return {
            i: Delta(a, b, c)
            for i, a, b, c in zip(self.ids[pos].tolist(), self.ds[pos].tolist(), self.dr[pos].tolist(),
                                  self.dd[pos].tolist(), strict=True)
        }


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
                rnd.base_change(changes, absolute=absolute)
            if pending:
                rnd.load(pending)
            rnd.push_all(params.budget - report.edge_visits)
            deltas = rnd.deltas()
            result: dict[int, tuple[float, float]] = {}
            if deltas:
                versions = dict(zip(rnd.ids[: rnd.n].tolist(), rnd.version[: rnd.n].tolist(), strict=True))
                rnd.round_trips += 1
                result = store.apply(deltas, {i: versions[i] for i in deltas})
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
        loaded = rnd.ids[: rnd.n].tolist()
        touched.update(loaded)
        s_read = dict(zip(loaded, rnd.s[: rnd.n].tolist(), strict=True))
        for i, (s_after, _) in result.items():
            if deltas[i].ds != 0.0 or i in report.changes:
                first = report.changes[i][0] if i in report.changes else s_read[i]
                report.changes[i] = (first, s_after)
        eps = params.eps
        deferred = rnd.deferred_above()
        pending = {i for i, (_, r) in result.items() if abs(r) > eps} | deferred
        # Deferred members did not fit this round's budget; a later round has less of it.
        if rnd.pushes == 0 or report.edge_visits >= params.budget or pending <= deferred:
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
    and the batch reaches the store in as few ``apply`` calls as possible. The work budget
    (``Params.budget``) is per base change, so it scales with the batch. A batch for at least
    ``Params.solve_share`` of all members (a ``SnapshotStore``) is one warm-started global solve
    instead, leaving every |r| ≤ ε/10 + 1.5·ε/100 like ``reconcile``."""
    if not targets:
        return PropagationReport()
    bases = {m: float(t) for m, t in targets.items()}
    # Pushes from this many seeds would touch most of the graph anyway: one global solve reads
    # and writes each row once instead of wave by wave.
    if (params.solve_share > 0.0 and len(bases) >= _SOLVE_MIN_BATCH and isinstance(store, SnapshotStore)
            and len(bases) >= params.solve_share * store.member_count()):
        return _global_solve(store, params, bases)
    # The work budget is per base change: a batch may do what its changes one by one could.
    batch = replace(params, budget=params.budget * len(targets))
    return _drive(store, batch, (), absolute=True, bases=bases)


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
    return _global_solve(store, params, None, tol=tol, drop=drop)


def _global_solve(
    store: SnapshotStore,
    params: Params,
    bases: Mapping[int, float] | None,
    *,
    tol: float | None = None,
    drop: float | None = None,
) -> PropagationReport:
    """``reconcile``, with ``bases`` (member -> target d) folded into the same solve: d moves to
    its target and the residuals take the change as ``αP·dd`` (the invariant's own linear change),
    every row written once, version-checked against the snapshot; a conflict redoes it all."""
    tol = params.eps / 10 if tol is None else tol
    drop = params.eps / 100 if drop is None else drop
    report = PropagationReport()
    for _ in range(params.max_conflicts + 1):
        snap = store.snapshot()
        graph = snap.graph if snap.graph is not None else build_graph(snap.ids, snap.edges)
        pos = graph.positions(snap.ids)
        d, s = np.empty(graph.n), np.empty(graph.n)
        d[pos], s[pos] = snap.d, snap.s
        dd = np.zeros(graph.n)
        if bases:
            try:
                moved = graph.positions(np.fromiter(bases.keys(), dtype=np.int64, count=len(bases)))
            except ValueError:
                raise KeyError(f"no contagion row for some of members {sorted(bases)[:10]}") from None
            dd[moved] = np.fromiter(bases.values(), dtype=np.float64, count=len(bases)) - d[moved]
        ds, dr = reconcile_deltas(graph, d, s, alpha=params.alpha, tol=tol, drop=drop, dd=dd)
        changed = np.flatnonzero((ds != 0.0) | (dr != 0.0) | (dd != 0.0))
        ids = graph.ids[changed]
        version = np.empty(graph.n, dtype=np.int64)
        version[pos] = snap.versions
        try:
            applied = _apply_arrays(store, ids, ds[changed], dr[changed], dd[changed], version[changed])
        except StaleState:
            report.conflicts += 1
            continue
        report.rounds += 1
        report.round_trips += 2
        report.nodes_touched = int(ids.size)
        report.edge_visits = int(graph.adj.nnz)
        s_after, r_after = applied
        moved_s = ds[changed] != 0.0
        report.changes = dict(zip(ids[moved_s].tolist(),
                                  zip(s[changed][moved_s].tolist(), s_after[moved_s].tolist(), strict=True),
                                  strict=True))
        leftover = ids[np.abs(r_after) > params.eps].tolist()
        if leftover:
            report.merge(propagate(store, leftover, params))
        return report
    raise ContagionConflict("the global solve kept meeting concurrent friendship changes")


def _apply_arrays(
    store: ContagionStore,
    ids: NDArray[np.int64],
    ds: NDArray[np.float64],
    dr: NDArray[np.float64],
    dd: NDArray[np.float64],
    versions: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``store.apply`` for aligned arrays; returns the resulting ``(s, r)`` aligned with ``ids``.
    Stores with an ``apply_arrays`` take the arrays as they are (no object per row)."""
    if not ids.size:
        return np.empty(0), np.empty(0)
    vectorised = getattr(store, "apply_arrays", None)
    if vectorised is not None:
        out: tuple[NDArray[np.float64], NDArray[np.float64]] = vectorised(ids, ds, dr, dd, versions)
        return out
    return apply_rows(store, ids, ds, dr, dd, versions)


def apply_rows(
    store: ContagionStore,
    ids: NDArray[np.int64],
    ds: NDArray[np.float64],
    dr: NDArray[np.float64],
    dd: NDArray[np.float64],
    versions: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Aligned arrays through ``store.apply`` (one ``Delta`` per row): for stores without a
    vectorised write; returns the resulting ``(s, r)`` aligned with ``ids``."""
    id_list = ids.tolist()
    result = store.apply(
        {i: Delta(a, b, c) for i, a, b, c in zip(id_list, ds.tolist(), dr.tolist(), dd.tolist(), strict=True)},
        dict(zip(id_list, versions.tolist(), strict=True)),
    )
    return (np.array([result[i][0] for i in id_list], dtype=np.float64),
            np.array([result[i][1] for i in id_list], dtype=np.float64))


__all__ = [
    "DEFAULT_PARAMS",
    "ContagionConflict",
    "ContagionStore",
    "Delta",
    "EdgeFold",
    "ExpandingStore",
    "Expansion",
    "NodeState",
    "Params",
    "PropagationReport",
    "Snapshot",
    "SnapshotStore",
    "StaleState",
    "apply_rows",
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
