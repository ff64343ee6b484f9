"""Friend contagion (DESIGN §3): the incremental push engine and the global iterative solve.

Pure Python + numpy/scipy, no Django: the database store that implements ``ContagionStore`` lives
with the models. See ``engine`` for the invariant and the concurrency contract, ``solve`` for the
full fixed point, ``stores`` for the in-process reference stores.
"""

from .engine import (
    DEFAULT_PARAMS,
    ContagionConflict,
    ContagionStore,
    Delta,
    EdgeFold,
    NodeState,
    Params,
    PropagationReport,
    Snapshot,
    SnapshotStore,
    StaleState,
    base_changed,
    base_set,
    bases_set,
    edge_added,
    edge_removed,
    fold_edge_added,
    fold_edge_removed,
    propagate,
    reconcile,
    social_points,
)
from .solve import (
    FriendGraph,
    SolveResult,
    baseline_jacobi,
    build_graph,
    graph_residuals,
    reconcile_deltas,
    residuals,
    solve,
    solve_graph,
)
from .stores import ArrayStore, MemoryStore

__all__ = [
    "DEFAULT_PARAMS",
    "ArrayStore",
    "ContagionConflict",
    "ContagionStore",
    "Delta",
    "EdgeFold",
    "FriendGraph",
    "MemoryStore",
    "NodeState",
    "Params",
    "PropagationReport",
    "Snapshot",
    "SnapshotStore",
    "SolveResult",
    "StaleState",
    "base_changed",
    "base_set",
    "baseline_jacobi",
    "bases_set",
    "build_graph",
    "edge_added",
    "edge_removed",
    "fold_edge_added",
    "fold_edge_removed",
    "graph_residuals",
    "propagate",
    "reconcile",
    "reconcile_deltas",
    "residuals",
    "social_points",
    "solve",
    "solve_graph",
]
