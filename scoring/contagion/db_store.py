"""The database implementation of the contagion engine's store (``scoring.contagion.engine``),
and the rebuild's reads and writes of the whole graph.

Every write is an increment applied in ascending member order (ordered row locks, the contagion
level of ``config.kernel.locks``, so two workers never deadlock), with a version check per row:
see the engine's concurrency contract.
Works on PostgreSQL (one statement per batch, arrays) and SQLite (row by row, embedded mode).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from numpy.typing import NDArray

from config.kernel import locks
from config.kernel.bulk_sql import bulk_cursor
from config.kernel.chunks import chunks
from scoring.contagion.engine import Delta, EdgeFold, Expansion, NodeState, Snapshot, StaleState, apply_rows
from scoring.contagion.models import ContagionEdge, ContagionGraph, ContagionNode
from scoring.contagion.solve import FriendGraph, build_graph
from scoring.ledger.models import ScoreState

#: Member ids per ORM statement (``IN (…)``, ``bulk_create``): statements stay bounded.
IDS_PER_QUERY = 5_000
#: Friendships per DELETE of the rebuild (two arrays of this many ids).
PAIRS_PER_DELETE = 50_000


def nodes_ensure(ids: Iterable[int]) -> set[int]:
    """Create missing rows as zero rows (d = s = r = 0, no friends: the invariant holds); return
    the ids created. The member's base is folded in afterwards, like any base change."""
    wanted = sorted(set(ids))
    created: set[int] = set()
    for chunk in chunks(wanted, IDS_PER_QUERY):
        have = set(ContagionNode.objects.filter(member_id__in=chunk).values_list("member_id", flat=True))
        missing = [i for i in chunk if i not in have]
        if missing:
            ContagionNode.objects.bulk_create([ContagionNode(member_id=i) for i in missing], ignore_conflicts=True)
            created.update(missing)
    return created


_NODE_ROW = np.dtype([("id", ">i8"), ("s", ">f8"), ("r", ">f8"), ("d", ">f8"), ("deg", ">i8"), ("version", ">i8")])
_EXPAND_SQL = f"""
    WITH e AS (
        SELECT member_a_id AS src, member_b_id AS dst
          FROM {ContagionEdge._meta.db_table} WHERE member_a_id = ANY(%(ids)s)
        UNION ALL
        SELECT member_b_id, member_a_id
          FROM {ContagionEdge._meta.db_table} WHERE member_b_id = ANY(%(ids)s)
    )
    SELECT (SELECT string_agg(int8send(src) || int8send(dst), ''::bytea) FROM e),
           (SELECT string_agg(int8send(n.member_id) || float8send(n.s) || float8send(n.r) || float8send(n.d)
                              || int8send(n.deg::bigint) || int8send(n.version), ''::bytea)
              FROM {ContagionNode._meta.db_table} n
             WHERE n.member_id = ANY(ARRAY(SELECT dst FROM e) || %(ids)s::bigint[]))
"""  # noqa: S608 - the table names are ours, the ids a parameter


# The version guard: a row whose version moved is not updated, and the count tells.
_APPLY_SQL = f"""
    WITH updated AS (
        UPDATE {ContagionNode._meta.db_table} AS n
           SET s = n.s + v.ds, r = n.r + v.dr, d = n.d + v.dd,
               version = n.version + CASE WHEN v.dd <> 0 THEN 1 ELSE 0 END
          FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::bigint[]) AS v(id, ds, dr, dd, ver)
         WHERE n.member_id = v.id AND n.version = v.ver
     RETURNING n.member_id, n.s, n.r
    )
    SELECT count(*), string_agg(int8send(member_id) || float8send(s) || float8send(r), ''::bytea) FROM updated
"""  # noqa: S608 - our table, values are parameters
_APPLY_UNGUARDED_SQL = _APPLY_SQL.replace("AND n.version = v.ver", "")
_APPLIED_ROW = np.dtype([("id", ">i8"), ("s", ">f8"), ("r", ">f8")])

# A whole-graph write (``apply_arrays``): the increments go in by binary COPY into a temporary
# table (numpy builds the COPY stream; no Python object per value), then the same ordered locks
# and the same version-guarded increment, joined to that table.
_INCREMENTS = "contagion_increments"
_INCREMENTS_SQL = f"""
    CREATE TEMPORARY TABLE IF NOT EXISTS {_INCREMENTS}
        (id bigint, ds float8, dr float8, dd float8, ver bigint) ON COMMIT DELETE ROWS
"""
_REBUILT = "contagion_rebuilt"  # the rebuild's rows (``nodes_write_absolute``), the same way
_REBUILT_SQL = f"""
    CREATE TEMPORARY TABLE IF NOT EXISTS {_REBUILT}
        (id bigint, d float8, s float8, r float8, deg int) ON COMMIT DELETE ROWS
"""
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_LOCK_FROM_SQL = f"""
    SELECT count(*) FROM (SELECT 1 FROM {ContagionNode._meta.db_table}
                           WHERE member_id IN (SELECT id FROM {_INCREMENTS})
                           ORDER BY member_id FOR NO KEY UPDATE) locked
"""  # noqa: S608 - our tables
_APPLY_FROM_SQL = _APPLY_SQL.replace(
    "unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::bigint[]) AS v(id, ds, dr, dd, ver)",
    f"{_INCREMENTS} AS v",
)


def _binary_copy_stream(columns: dict[str, NDArray[Any]]) -> bytes:
    """PostgreSQL's binary COPY format for aligned numpy columns (int64 → bigint, int32 → int,
    float64 → float8), built by numpy in one buffer: no Python object per value."""
    fields: list[tuple[str, str]] = [("fields", ">i2")]
    for name, column in columns.items():
        fields += [(f"{name}_len", ">i4"), (name, f">{column.dtype.kind}{column.dtype.itemsize}")]
    rows = np.empty(len(next(iter(columns.values()))), dtype=np.dtype(fields))
    rows["fields"] = len(columns)
    for name, column in columns.items():
        rows[f"{name}_len"] = column.dtype.itemsize
        rows[name] = column
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER

# The whole graph in one snapshot: the graph version, every row, and (only when this process has
# no adjacency for that version) every friendship, as packed binary columns.
_SNAPSHOT_ROW = np.dtype([("id", ">i8"), ("d", ">f8"), ("s", ">f8"), ("r", ">f8"), ("version", ">i8")])
_SNAPSHOT_SQL = f"""
    SELECT (SELECT version FROM {ContagionGraph._meta.db_table} WHERE id = 1),
           (SELECT string_agg(int8send(member_id) || float8send(d) || float8send(s) || float8send(r)
                              || int8send(version), ''::bytea ORDER BY member_id)
              FROM {ContagionNode._meta.db_table})
"""  # noqa: S608 - our tables
_SNAPSHOT_EDGES_SQL = _SNAPSHOT_SQL + f"""
         , (SELECT string_agg(int8send(member_a_id) || int8send(member_b_id), ''::bytea)
              FROM {ContagionEdge._meta.db_table})
"""  # noqa: S608 - our table


class _GraphCache:
    """This process's adjacency, per database: valid while the graph version read in the same
    snapshot as the rows is the one it was built at and the member ids are the same."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, NDArray[np.int64], FriendGraph]] = {}

    def get(self, database: str, version: int | None, ids: NDArray[np.int64]) -> FriendGraph | None:
        entry = self.entries.get(database)
        if version is None or entry is None or entry[0] != version or not np.array_equal(entry[1], ids):
            return None
        return entry[2]

    def put(self, database: str, version: int | None, ids: NDArray[np.int64], graph: FriendGraph) -> None:
        if version is None:  # no version row (a flushed test database): nothing to key on
            self.entries.pop(database, None)
            return
        self.entries[database] = (version, ids, graph)


_graphs = _GraphCache()


def _expand_rows(store: DbStore, ids: NDArray[np.int64]) -> Expansion:
    """``expand`` from ``load`` and ``neighbours`` (SQLite): states before friend lists."""
    wanted = ids.tolist()
    states = store.load(wanted)
    lists = store.neighbours(wanted)
    friends = {w for i in wanted for w in lists[i]} - states.keys()
    states.update(store.load(friends))
    counts = [len(lists[i]) for i in wanted]
    member_ids = list(states)
    cols: list[tuple[float, ...]] = list(zip(*states.values(), strict=True)) if states else [()] * 5
    return Expansion(
        src=np.repeat(ids, counts).astype(np.int64),
        dst=np.fromiter((w for i in wanted for w in lists[i]), dtype=np.int64, count=sum(counts)),
        ids=np.array(member_ids, dtype=np.int64), s=np.array(cols[0], dtype=np.float64),
        r=np.array(cols[1], dtype=np.float64), d=np.array(cols[2], dtype=np.float64),
        deg=np.array(cols[3], dtype=np.int64), version=np.array(cols[4], dtype=np.int64),
    )


class DbStore:
    """``ContagionStore`` + ``SnapshotStore`` (+ ``ExpandingStore``) over ``ContagionNode`` /
    ``ContagionEdge``. ``check_versions=False`` drops the friendship-race guard from ``apply``
    (only to show, in a test, what the guard prevents)."""

    def __init__(self, *, check_versions: bool = True) -> None:
        self.check_versions = check_versions

    def load(self, ids: Collection[int]) -> dict[int, NodeState]:
        out: dict[int, NodeState] = {}
        for chunk in chunks(list(ids), IDS_PER_QUERY):
            for member_id, s, r, d, deg, version in ContagionNode.objects.filter(member_id__in=chunk).values_list(
                "member_id", "s", "r", "d", "deg", "version"
            ):
                out[member_id] = NodeState(s, r, d, deg, version)
        missing = set(ids) - out.keys()
        if missing:
            raise KeyError(f"no contagion row for members {sorted(missing)[:10]}")
        return out

    def neighbours(self, ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        out: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in chunks(list(ids), IDS_PER_QUERY):
            rows = ContagionEdge.objects.filter(Q(member_a_id__in=chunk) | Q(member_b_id__in=chunk)).values_list(
                "member_a_id", "member_b_id"
            )
            for a, b in rows:
                if a in out:
                    out[a].append(b)
                if b in out:
                    out[b].append(a)
        return {i: tuple(sorted(set(v))) for i, v in out.items()}

    def expand(self, ids: NDArray[np.int64]) -> Expansion:
        """One round trip per push wave (PostgreSQL): the friend lists of ``ids`` and the rows of
        ``ids`` and of all their friends, read by one statement (one snapshot), shipped as packed
        binary columns (no Python object per row). Elsewhere: ``load`` and ``neighbours``."""
        if connection.vendor != "postgresql":
            return _expand_rows(self, ids)
        with connection.cursor() as cursor:
            cursor.execute(_EXPAND_SQL, {"ids": ids.tolist()})
            edges, nodes = cursor.fetchone()
        pairs = np.frombuffer(edges or b"", dtype=">i8").reshape(-1, 2).astype(np.int64)
        rows = np.frombuffer(nodes or b"", dtype=_NODE_ROW)
        if rows.size < ids.size and np.setdiff1d(ids, rows["id"]).size:
            raise KeyError(f"no contagion row for members {np.setdiff1d(ids, rows['id'])[:10].tolist()}")
        return Expansion(
            src=pairs[:, 0], dst=pairs[:, 1], ids=rows["id"].astype(np.int64), s=rows["s"].astype(np.float64),
            r=rows["r"].astype(np.float64), d=rows["d"].astype(np.float64), deg=rows["deg"].astype(np.int64),
            version=rows["version"].astype(np.int64),
        )

    @transaction.atomic
    def apply(self, deltas: Mapping[int, Delta], versions: Mapping[int, int]) -> dict[int, tuple[float, float]]:
        ids = sorted(deltas)
        if not ids:
            return {}
        if connection.vendor == "postgresql":
            return self._apply_postgresql(ids, deltas, versions)
        return self._apply_rows(ids, deltas, versions)

    def _apply_postgresql(
        self, ids: list[int], deltas: Mapping[int, Delta], versions: Mapping[int, int]
    ) -> dict[int, tuple[float, float]]:
        cols = list(zip(*(deltas[i] for i in ids), strict=True))
        # Lock in ascending order first (the house's order): concurrent batches then queue, never deadlock.
        locks.rows_lock(ContagionNode, ids, level=locks.CONTAGION)
        with connection.cursor() as cursor:
            cursor.execute(_APPLY_SQL if self.check_versions else _APPLY_UNGUARDED_SQL,
                           [ids, list(cols[0]), list(cols[1]), list(cols[2]), [versions[i] for i in ids]])
            updated, packed = cursor.fetchone()
        rows = np.frombuffer(packed or b"", dtype=_APPLIED_ROW)
        if updated != len(ids):
            # Roll the whole batch back: some member's friends or base moved meanwhile.
            raise StaleState(set(ids) - set(rows["id"].tolist()))
        return dict(zip(rows["id"].tolist(), zip(rows["s"].tolist(), rows["r"].tolist(), strict=True), strict=True))

    def _apply_rows(
        self, ids: list[int], deltas: Mapping[int, Delta], versions: Mapping[int, int]
    ) -> dict[int, tuple[float, float]]:
        table = ContagionNode._meta.db_table
        out: dict[int, tuple[float, float]] = {}
        locks.level_enter(locks.CONTAGION)
        with connection.cursor() as cursor:
            for i in ids:
                ds, dr, dd = deltas[i]
                cursor.execute(
                    f"UPDATE {table} SET s = s + %s, r = r + %s, d = d + %s, version = version + %s "  # noqa: S608
                    "WHERE member_id = %s AND (version = %s OR %s) RETURNING s, r",
                    [ds, dr, dd, 1 if dd else 0, i, versions[i], not self.check_versions],
                )
                row = cursor.fetchone()
                if row is None:
                    raise StaleState([i])
                out[i] = (row[0], row[1])
        return out

    @transaction.atomic
    def change_edge(self, u: int, v: int, *, add: bool, fold: EdgeFold) -> dict[int, tuple[float, float]]:
        if u == v:
            raise ValueError("a member cannot befriend themselves")
        a, b = min(u, v), max(u, v)
        locks.rows_lock(ContagionNode, [a, b], level=locks.CONTAGION)
        nodes = {n.member_id: n for n in ContagionNode.objects.filter(member_id__in=[a, b])}
        exists = ContagionEdge.objects.filter(member_a_id=a, member_b_id=b).exists()
        if add and exists:
            raise ValueError(f"{a} and {b} are already linked")
        if not add and not exists:
            raise ValueError(f"{a} and {b} are not linked")
        state = {i: NodeState(n.s, n.r, n.d, n.deg, n.version) for i, n in nodes.items()}
        dr_u, dr_v = fold(state[u], state[v])
        step = 1 if add else -1
        for member_id, dr in ((u, dr_u), (v, dr_v)):
            node = nodes[member_id]
            node.r += dr
            node.deg += step
            node.version += 1
            node.save(update_fields=["r", "deg", "version"])
        if add:
            ContagionEdge.objects.create(member_a_id=a, member_b_id=b)
        else:
            ContagionEdge.objects.filter(member_a_id=a, member_b_id=b).delete()
        return {i: (nodes[i].s, nodes[i].r) for i in (u, v)}

    def apply_arrays(
        self, ids: NDArray[np.int64], ds: NDArray[np.float64], dr: NDArray[np.float64], dd: NDArray[np.float64],
        versions: NDArray[np.int64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``apply`` for aligned arrays (a global solve writes most rows): the same ordered locks
        and version guard, no Python object per row; returns ``(s, r)`` aligned with ``ids``."""
        if connection.vendor != "postgresql":
            return apply_rows(self, ids, ds, dr, dd, versions)
        order = np.argsort(ids, kind="stable")
        ids, ds, dr, dd, versions = ids[order], ds[order], dr[order], dd[order], versions[order]
        apply_sql = _APPLY_FROM_SQL if self.check_versions else _APPLY_FROM_SQL.replace("AND n.version = v.ver", "")
        with transaction.atomic(), bulk_cursor() as cursor:
            locks.level_enter(locks.CONTAGION)  # _LOCK_FROM_SQL below: the rows joined to the increments
            cursor.execute(_INCREMENTS_SQL)
            with cursor.copy(f"COPY {_INCREMENTS} (id, ds, dr, dd, ver) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_binary_copy_stream({"id": ids, "ds": ds, "dr": dr, "dd": dd, "ver": versions}))
            cursor.execute(_LOCK_FROM_SQL)
            cursor.execute(apply_sql)
            updated, packed = cursor.fetchone()  # type: ignore[misc]
            cursor.execute(f"TRUNCATE {_INCREMENTS}")  # an outer transaction may write again
            rows = np.frombuffer(packed or b"", dtype=_APPLIED_ROW)
            if updated != ids.size:
                raise StaleState(set(ids.tolist()) - set(rows["id"].tolist()))
        rows = rows[np.argsort(rows["id"], kind="stable")]
        s_out, r_out = np.empty(ids.size), np.empty(ids.size)
        s_out[order], r_out[order] = rows["s"], rows["r"]
        return s_out, r_out

    def member_count(self) -> int:
        return ContagionNode.objects.count()

    def snapshot(self) -> Snapshot:
        """Every row and every friendship in one consistent read. On PostgreSQL: one statement
        of packed binary columns, and the adjacency from this process's cache when the graph
        version read with the rows says it is current (else a second statement that also reads
        the friendships, and the cache is refilled)."""
        if connection.vendor == "postgresql":
            return self._snapshot_postgresql()
        rows = list(ContagionNode.objects.order_by("member_id").values_list("member_id", "d", "s", "r", "version"))
        edges = list(ContagionEdge.objects.values_list("member_a_id", "member_b_id"))
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        a = np.array([e[0] for e in edges], dtype=np.int64)
        b = np.array([e[1] for e in edges], dtype=np.int64)
        return Snapshot(
            ids=ids,
            d=np.array([row[1] for row in rows], dtype=np.float64),
            s=np.array([row[2] for row in rows], dtype=np.float64),
            r=np.array([row[3] for row in rows], dtype=np.float64),
            versions=np.array([row[4] for row in rows], dtype=np.int64),
            edges=(a, b),
        )

    def _snapshot_postgresql(self) -> Snapshot:
        database = str(connection.settings_dict["NAME"])
        with connection.cursor() as cursor:
            cursor.execute(_SNAPSHOT_SQL)
            version, packed = cursor.fetchone()
            rows = np.frombuffer(packed or b"", dtype=_SNAPSHOT_ROW)
            ids = rows["id"].astype(np.int64)
            graph = _graphs.get(database, version, ids)
            if graph is None:
                cursor.execute(_SNAPSHOT_EDGES_SQL)
                version, packed, edges = cursor.fetchone()
                rows = np.frombuffer(packed or b"", dtype=_SNAPSHOT_ROW)
                ids = rows["id"].astype(np.int64)
                pairs = np.frombuffer(edges or b"", dtype=">i8").reshape(-1, 2).astype(np.int64)
                graph = build_graph(ids, (pairs[:, 0], pairs[:, 1]))
                _graphs.put(database, version, ids, graph)
        empty = np.empty(0, dtype=np.int64)
        return Snapshot(ids=ids, d=rows["d"].astype(np.float64), s=rows["s"].astype(np.float64),
                        r=rows["r"].astype(np.float64), versions=rows["version"].astype(np.int64),
                        edges=(empty, empty), graph=graph)



_REBUILD_ROW = np.dtype([("id", ">i8"), ("d", ">f8"), ("s", ">f8"), ("r", ">f8"), ("deg", ">i8"), ("base", ">f8")])


def nodes_read_for_rebuild(neutral_base: float) -> dict[str, np.ndarray]:
    """Every contagion row in member order, with the member's current base (``neutral_base`` when
    they have no score state): ``id, d, s, r, deg, base`` arrays. PostgreSQL: one packed column."""
    node, state = ContagionNode._meta.db_table, ScoreState._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT string_agg(int8send(n.member_id) || float8send(n.d) || float8send(n.s) || float8send(n.r) "  # noqa: S608
                f"|| int8send(n.deg::bigint) || float8send(COALESCE(t.base, %s)), ''::bytea ORDER BY n.member_id) "
                f"FROM {node} n LEFT JOIN {state} t ON t.member_id = n.member_id",
                [neutral_base],
            )
            rows = np.frombuffer(cursor.fetchone()[0] or b"", dtype=_REBUILD_ROW)
        names = _REBUILD_ROW.names or ()
        return {name: rows[name].astype(np.int64 if name in ("id", "deg") else np.float64) for name in names}
    values = list(ContagionNode.objects.order_by("member_id").values_list(
        "member_id", "d", "s", "r", "deg", "member__score_state__base"))
    return {
        "id": np.array([v[0] for v in values], dtype=np.int64),
        "d": np.array([v[1] for v in values], dtype=np.float64),
        "s": np.array([v[2] for v in values], dtype=np.float64),
        "r": np.array([v[3] for v in values], dtype=np.float64),
        "deg": np.array([v[4] for v in values], dtype=np.int64),
        "base": np.array([neutral_base if v[5] is None else v[5] for v in values], dtype=np.float64),
    }


def nodes_write_absolute(
    ids: np.ndarray, d: np.ndarray, s: np.ndarray, r: np.ndarray, deg: np.ndarray
) -> None:
    """Overwrite rows (the rebuild path only, under the table lock): d, s, r, deg set, version
    bumped so any push that read the old rows retries from fresh reads."""
    table = ContagionNode._meta.db_table
    if connection.vendor == "postgresql":
        assert connection.in_atomic_block, "the temporary table empties at every commit: call inside the rebuild's"
        # Binary COPY into a temporary table, then one UPDATE joined to it (a million rows: the
        # text form of the same values as array parameters took seconds of Python).
        with bulk_cursor() as cursor:
            cursor.execute(_REBUILT_SQL)
            with cursor.copy(f"COPY {_REBUILT} (id, d, s, r, deg) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_binary_copy_stream({"id": ids.astype(np.int64), "d": d.astype(np.float64),
                                                "s": s.astype(np.float64), "r": r.astype(np.float64),
                                                "deg": deg.astype(np.int32)}))
            cursor.execute(
                f"UPDATE {table} AS n SET d = v.d, s = v.s, r = v.r, deg = v.deg, version = n.version + 1"  # noqa: S608
                f"  FROM {_REBUILT} AS v WHERE n.member_id = v.id"
            )
            cursor.execute(f"TRUNCATE {_REBUILT}")
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET d = %s, s = %s, r = %s, deg = %s, version = version + 1 "  # noqa: S608
                "WHERE member_id = %s",
                list(zip(d.tolist(), s.tolist(), r.tolist(), deg.tolist(), ids.tolist(), strict=True)),
            )


def lock_for_rebuild() -> None:
    """Hold off every incremental writer until the rebuild's transaction ends (PostgreSQL; SQLite
    already serialises writers). The contagion level of the house's lock order."""
    locks.level_enter(locks.CONTAGION)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"LOCK TABLE {ContagionNode._meta.db_table}, {ContagionEdge._meta.db_table} IN EXCLUSIVE MODE"
            )


def edges_rebuild(source_sql: str, params: list) -> tuple[np.ndarray, np.ndarray]:
    """Make the applied-edges table exactly the (member_a, member_b) rows of ``source_sql``, in
    the rebuild transaction, and return those edges as two id arrays. Only the difference is
    written: both sets are read packed and compared in numpy (on a nightly rebuild they rarely
    differ; rewriting, or anti-joining, 9M rows in the database took a minute at 1M members)."""
    table = ContagionEdge._meta.db_table
    desired = pairs_read(f"SELECT member_a_id, member_b_id FROM ({source_sql}) source", params)  # noqa: S608
    current = pairs_read(f"SELECT member_a_id, member_b_id FROM {table}", [])  # noqa: S608 - our table
    new, gone = pairs_difference(desired, current)
    if not new.size and not gone.size:  # the nightly case
        return desired[:, 0].copy(), desired[:, 1].copy()
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.executemany(f"DELETE FROM {table} WHERE member_a_id = %s AND member_b_id = %s",  # noqa: S608
                               gone.tolist())
            cursor.executemany(f"INSERT INTO {table} (member_a_id, member_b_id) VALUES (%s, %s)",  # noqa: S608
                               new.tolist())
        return desired[:, 0].copy(), desired[:, 1].copy()
    with bulk_cursor() as bulk:
        for start in range(0, len(gone), PAIRS_PER_DELETE):  # numpy rows, not a Sequence
            chunk = gone[start:start + PAIRS_PER_DELETE]
            bulk.execute(f"DELETE FROM {table} WHERE (member_a_id, member_b_id) IN "  # noqa: S608 - our table
                         "(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
                         [chunk[:, 0].tolist(), chunk[:, 1].tolist()])
        if len(new):
            # By binary COPY: a first rebuild inserts millions (COPY fires the statement trigger
            # that moves the graph version, like any INSERT).
            with bulk.copy(f"COPY {table} (member_a_id, member_b_id) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_binary_copy_stream({"a": new[:, 0].astype(np.int64), "b": new[:, 1].astype(np.int64)}))
    return desired[:, 0].copy(), desired[:, 1].copy()


def pairs_difference(desired: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(missing, extra)``: the pairs of ``desired`` not in ``current``, and the other way round
    (``(n, 2)`` arrays; sorted keys and binary search, no Python object per pair)."""
    desired_keys, current_keys = np.sort(_pair_keys(desired)), np.sort(_pair_keys(current))
    if np.array_equal(desired_keys, current_keys):
        return desired[:0], current[:0]
    return (desired[~_sorted_contains(current_keys, _pair_keys(desired))],
            current[~_sorted_contains(desired_keys, _pair_keys(current))])


def pairs_read(sql: str, params: list) -> np.ndarray:
    """``(n, 2)`` int64 pairs of a two-column query (PostgreSQL: one packed value)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT string_agg(int8send(p.member_a_id) || int8send(p.member_b_id), ''::bytea) "  # noqa: S608
                           f"FROM ({sql}) p", params)  # our query text, values are parameters
            return np.frombuffer(cursor.fetchone()[0] or b"", dtype=">i8").reshape(-1, 2).astype(np.int64)
        cursor.execute(sql, params)
        return np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)


def _pair_keys(pairs: np.ndarray) -> np.ndarray:
    """One int64 per pair (member ids are positive and below 2**31)."""
    return pairs[:, 0] << 31 | pairs[:, 1]


def _sorted_contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in ``sorted_keys`` (binary search: np.isin took 36 s for 9M pairs)."""
    if not sorted_keys.size:
        return np.zeros(keys.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[at] == keys


def nodes_ensure_for_scored() -> None:
    """A zero row for every member with a score state (one statement)."""
    node, state = ContagionNode._meta.db_table, ScoreState._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {node} (member_id, d, s, r, deg, version) "  # noqa: S608 - our tables
            # "WHERE true": SQLite needs it to parse ON CONFLICT after a SELECT.
            f"SELECT member_id, 0, 0, 0, 0, 0 FROM {state} WHERE true ON CONFLICT (member_id) DO NOTHING"
        )
