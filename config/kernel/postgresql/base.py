"""Django's PostgreSQL backend, with a connection pool that fails fast after connection loss.

psycopg's pool health-checks a connection as it leaves the pool; when the check fails it takes
the next idle one, waiting 1, 2, 4, … s between tries. After a PostgreSQL restart or a
``pg_terminate_backend`` every idle connection is dead, so a request waited for each of them in
turn — up to the pool's whole timeout (the 30 s stalls the fault-injection run measured) — while
a fresh connection was a few milliseconds away. Here the first failed check checks every idle
connection at once (``ConnectionPool.check``: the dead are dropped and replaced), so the next try
gets a live connection or the new one at once. Everything else is Django's backend unchanged.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class PoolCheck:
    """The pool's ``check``: psycopg's own, and on a dead connection every idle one at once."""

    def __init__(self) -> None:
        self.pool: ConnectionPool | None = None

    def __call__(self, conn: Any) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()
            raise


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        """Django 5.2's ``pool``, built with ``PoolCheck`` when health checks are on."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        pools: dict[str, ConnectionPool] = self._connection_pools  # type: ignore[attr-defined]  # Django's, untyped
        if self.alias not in pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            options = {} if pool_options is True else dict(pool_options)
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets it properly later on
            check = PoolCheck() if self.settings_dict["CONN_HEALTH_CHECKS"] else None
            pool = ConnectionPool(kwargs=connect_kwargs, open=False,
                                  configure=self._configure_connection,  # type: ignore[attr-defined]
                                  check=check, **options)
            if check is not None:
                check.pool = pool
            pools.setdefault(self.alias, pool)  # the first thread to get here wins
        return pools[self.alias]
