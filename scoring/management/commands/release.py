"""``manage.py release``: what services mode runs before its processes start (the Procfile's
``release``): create the PostgreSQL database when it does not exist yet (a fresh machine), apply
migrations, collect static files (DEBUG off: whitenoise serves them from
``STATIC_ROOT``), and seed the demo world ``make run`` serves (``seed_demo``: idempotent, so a
seeded database only has its demo partners' keys checked against ``--partners-file``)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from scoring.demo.world import DEFAULT_SEED

#: A database connection (named so: tests/test_architecture.py reads ``x.connect(...)`` as a signal
#: receiver being connected, which belongs in receivers.py).
_connect = psycopg.connect


class Command(BaseCommand):
    help = "Migrate, collect static files and seed the demo world (idempotent): services mode's release step."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--demo-members", type=int, default=300,
                            help="size of the demo world (default 300, as make run); 0: no demo world")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--partners-file", default=None,
                            help="where the demo partners' keys go, for `manage.py simulate`")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if options["demo_members"] and options["demo_members"] < 3:
            raise CommandError("--demo-members must be 0 or at least 3.")
        started = time.perf_counter()
        if connection.vendor == "postgresql" and _database_create_if_missing():
            self.stdout.write(f"Created the database {settings.DATABASES['default']['NAME']}.")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Migrations applied and static files collected in {time.perf_counter() - started:.1f} s.")
        if options["demo_members"]:
            call_command("seed_demo", members=options["demo_members"], seed=options["seed"],
                         partners_file=options["partners_file"], no_progress=True, verbosity=options["verbosity"],
                         stdout=self.stdout)
        self.stdout.write("Release done.")


def _database_create_if_missing() -> bool:
    """Create the configured PostgreSQL database when it does not exist; whether it did."""
    db = settings.DATABASES["default"]
    params: dict[str, Any] = {"host": db.get("HOST") or None, "port": db.get("PORT") or None,
                              "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
                              "connect_timeout": 5}
    with _connect(dbname="postgres", autocommit=True, **params) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    return True
