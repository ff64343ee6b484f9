"""Rows locked in one order, for the whole house.

Every writer that must serialise on rows that other writers also lock takes them here, in ONE
order: first members' rows (``accounts_user``), then their score states, then their contagion
rows — each table's rows by ascending id. Two writers that follow the order can wait on each
other but never in a cycle, so PostgreSQL never has to break a deadlock between them.

* ``members_lock`` / ``member_ids_lock`` / ``member_lock``: members (scoring, friendships,
  challenges, moderation, deletion, contagion's points write).
* ``rows_lock(model, ids, level=…)``: the rows of another table in the order, by the model the
  app passes in (the kernel imports no app): score states (``SCORE_STATES``), contagion rows
  (``CONTAGION``).
* ``level_enter(level)``: for a writer that locks with its own statement (a temporary table
  joined on a million rows): it declares the level it now locks at.

Each of them checks the order against what the current transaction locked before and raises
``LockOrderError`` on a step back (contagion rows, then a member): the mistake shows at once, in
every test that runs the writer, instead of as a rare deadlock under load.

Rows are locked ``FOR NO KEY UPDATE``: writers still queue on each other, but a row inserted
elsewhere that merely *refers* to a member (an event, a ledger row, a notification) takes its
foreign-key share lock without waiting for the member's writers — an ingestion request commits
while scoring holds the member. A writer that deletes the member upgrades its lock by deleting.

Within one level, lock the whole set in one call where possible: a writer that locks members
again later in the same transaction (deletion locks the member, then the member's friends) can
still meet one that locks them in the other order. Call inside ``transaction.atomic``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models

from config.kernel.bulk_sql import bulk_cursor

#: The order, lowest first.
MEMBERS = 1
SCORE_STATES = 2
CONTAGION = 3
_NAMES = {MEMBERS: "members", SCORE_STATES: "score states", CONTAGION: "contagion rows"}
#: Up to this many ids, ``rows_lock`` binds them through Django's cursor (quoted into the SQL);
#: more go as one binary array (``bulk_sql.bulk_cursor``).
BIND_AS_TEXT = 5_000


class LockOrderError(RuntimeError):
    """A transaction asked for rows lower in the lock order than rows it already holds."""


def _transaction() -> object:
    """What tells the current transaction from an earlier one on the same connection: the list of
    its commit hooks, which Django replaces at every commit and rollback (it stays the same
    object all along the transaction) — or, under a test's own outer transaction, the savepoint
    that stands for the code's transaction."""
    for depth, block in enumerate(connection.atomic_blocks):
        if not getattr(block, "_from_testcase", False):
            if depth == 0:
                return connection.run_on_commit
            savepoint = connection.savepoint_ids[depth - 1]
            return savepoint if savepoint is not None else block
    return connection.run_on_commit


def level_enter(level: int) -> None:
    """Record that the current transaction locks rows at ``level`` from now on; ``LockOrderError``
    if it already holds rows at a higher level. Rows at the same level may be locked again."""
    if not connection.in_atomic_block:
        raise LockOrderError("row locks only hold inside transaction.atomic")
    current = _transaction()
    held: tuple[object, int] | None = getattr(connection, "_credo_lock_level", None)
    if held is not None and (held[0] is current or (isinstance(current, str) and held[0] == current)):
        if level < held[1]:
            raise LockOrderError(f"{_NAMES[level]} locked after {_NAMES[held[1]]}: lock members, then score "
                                 "states, then contagion rows (config.kernel.locks)")
        level = max(level, held[1])
    connection._credo_lock_level = (current, level)  # type: ignore[attr-defined]


def _members() -> Any:
    level_enter(MEMBERS)
    return get_user_model().objects.select_for_update(no_key=True)


def member_lock(member_id: int) -> Any:
    """The member's row, locked (``DoesNotExist`` if there is none)."""
    return _members().get(pk=member_id)


def members_lock(member_ids: Iterable[int]) -> list[Any]:
    """The members' rows, locked in ascending id order (unknown ids are skipped)."""
    ids = sorted(set(member_ids))
    return list(_members().filter(pk__in=ids).order_by("pk"))


def member_ids_lock(member_ids: Iterable[int]) -> list[int]:
    """Like ``members_lock`` when only the lock matters: the locked ids, without loading the rows."""
    ids = sorted(set(member_ids))
    return list(_members().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def rows_lock(model: type[models.Model], ids: Sequence[int], *, level: int, key: str = "pk") -> None:
    """Lock ``model``'s rows whose ``key`` is in ``ids``, ascending, at ``level`` of the order.

    PostgreSQL: one statement (many ids are bound as one binary array: a global solve hands in 100k).
    SQLite has no row locks (it serialises writers itself): only the order is checked."""
    level_enter(level)
    if not ids or connection.vendor != "postgresql":
        return
    meta: Any = model._meta
    column = connection.ops.quote_name(meta.pk.column if key == "pk" else meta.get_field(key).column)
    sql = (f"SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(meta.db_table)} "  # noqa: S608 - ours
           f"WHERE {column} = ANY(%s) ORDER BY {column} FOR NO KEY UPDATE) locked")
    wanted = sorted(set(ids))
    if len(wanted) <= BIND_AS_TEXT:  # Django's cursor: seen by query logs and the tests' query counts
        with connection.cursor() as cursor:
            cursor.execute(sql, [wanted])
        return
    with bulk_cursor() as cursor:
        cursor.execute(sql, [wanted], binary=True)
