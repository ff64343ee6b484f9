"""Plain SQL for updates of many rows at once: the batch scorer, friend contagion and the boards'
season entries write through here.

``bulk_update`` builds a CASE WHEN expression per row and field: ≈ 130–200 ms of CPU for 200
score states, against ≈ 7 ms for the same rows sent as one parametrised UPDATE through
``executemany``. Statements are built from the models' metadata (table and column names are
ours, never user input; values are always parameters). Valid on PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection, models

from config.kernel.chunks import chunks

#: Rows per statement of ``rows_update(..., arrays=True)`` on PostgreSQL.
ARRAY_ROWS = 20_000
#: The PostgreSQL array type a field's values travel as, by the field's internal type.
_ARRAY_TYPES = {"FloatField": "float8", "IntegerField": "bigint", "PositiveSmallIntegerField": "bigint",
                "CharField": "text", "DateTimeField": "timestamptz"}


@contextmanager
def bulk_cursor() -> Iterator[psycopg.Cursor]:
    """A server-side-binding psycopg cursor on Django's connection (PostgreSQL only), inside the
    current transaction: parameters travel apart from the SQL, in binary. Django's own cursor
    binds client-side, quoting every element of a parameter into the SQL text: seconds for the
    100k-element arrays of a global solve's write. Django's query wrappers do not see it, but
    its errors are Django's, as on Django's own cursor (``django.db.OperationalError`` for a
    deadlock or a lost connection): retry policies and transaction handling treat both alike."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def rows_update(model: type[models.Model], *, key: str, fields: Sequence[str], rows: Sequence[Sequence[Any]],
                now: Sequence[str] = (), arrays: bool = False) -> None:
    """``UPDATE <model> SET <fields> = … WHERE <key> = …`` for each of ``rows``: the values of
    ``fields`` in order, then the key's value (the statement's own order). ``now``: fields also
    set, in every row, to the database's ``CURRENT_TIMESTAMP``. Nothing is read back.

    By default one ``executemany`` (one pipelined round trip on PostgreSQL), values prepared by
    the fields as the ORM would (JSON, datetimes). ``arrays=True`` is for large writes (a global
    solve hands in 100k rows): on PostgreSQL one statement per ``ARRAY_ROWS`` rows joined to the
    ``unnest`` of typed arrays bound in binary (``bulk_cursor``), values sent as they are — plain
    floats, ints, strings and aware datetimes only; elsewhere it changes nothing.
    """
    if not rows:
        return
    meta: Any = model._meta
    qn = connection.ops.quote_name
    targets = [meta.get_field(name) for name in fields]
    where = meta.get_field(key)
    columns = [qn(f.column) for f in targets]
    touched = [f"{qn(meta.get_field(name).column)} = CURRENT_TIMESTAMP" for name in now]
    if arrays and connection.vendor == "postgresql":
        sets = ", ".join([*(f"{c} = v.{c}" for c in columns), *touched])
        types = ", ".join(f"%s::{_ARRAY_TYPES[f.get_internal_type()]}[]" for f in targets)
        sql = (f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM unnest({types}, %s::bigint[])"  # noqa: S608
               f" AS v({', '.join(columns)}, k) WHERE t.{qn(where.column)} = v.k")
        with bulk_cursor() as cursor:
            for chunk in chunks(rows, ARRAY_ROWS):
                cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)], binary=True)
        return
    sets = ", ".join([*(f"{c} = %s" for c in columns), *touched])
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(where.column)} = %s"  # noqa: S608
    params = [[f.get_db_prep_save(value, connection) for f, value in zip(targets, row[:-1], strict=True)]
              + [where.get_db_prep_save(row[-1], connection)] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def rows_insert(model: type[models.Model], objs: Sequence[models.Model], *, chunk: int = 5000) -> None:
    """INSERT these unsaved instances as they are, one ``executemany`` per ``chunk``, each value
    prepared by its field as the ORM prepares it. Cheaper than ``bulk_create`` for a large load
    (no statement compiled per chunk with a placeholder per value), and unlike it, values the
    caller set on ``auto_now_add`` fields are kept. Nothing is read back: the rows get no ids."""
    if not objs:
        return
    meta: Any = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"  # noqa: S608 - model's table
           f" VALUES ({', '.join(['%s'] * len(fields))})")
    with connection.cursor() as cursor:
        for part in chunks(objs, chunk):
            cursor.executemany(sql, [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
                                     for obj in part])
