"""Friend contagion (DESIGN §3), in one place.

The math is pure Python + numpy/scipy, no Django: ``engine`` (the incremental push engine, its
invariant and concurrency contract), ``solve`` (the full fixed point) and ``stores`` (in-process
reference stores for tests and benchmarks). Wired to the database: ``models`` (nodes, edges, the
graph version), ``db_store`` (the engine's store on PostgreSQL/SQLite), ``services`` (base and
friendship changes, social points, the rebuild), ``tasks`` and ``receivers``.
"""
