"""``manage.py leaderboards_rebuild``: restore the Redis index from the database.

Run it after Redis lost its data (the app also notices an empty index and rebuilds by itself);
``--close-seasons`` first closes the weekly seasons that ended. ``--check`` changes nothing: it
compares every board entry with the database (``leaderboards.boards.check``), prints the figures
and exits with status 1 when anything differs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leaderboards.boards import check, index, services


class Command(BaseCommand):
    help = ("Rebuild the leaderboards' Redis index from the database (services mode); --check only "
            "compares the boards with the database and exits non-zero on any difference.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--close-seasons", action="store_true", help="Also close weekly seasons that ended.")
        parser.add_argument("--check", action="store_true",
                            help="Change nothing: report the board entries that differ from the database.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            result = check.boards_check()
            parts = ", ".join(f"{name} {n}" for name, n in sorted(result.differences.items()))
            ready = {None: "no index (embedded mode: boards are read from the database)",
                     True: "index complete", False: "index INCOMPLETE (a rebuild is due)"}[result.index_ready]
            self.stdout.write(f"{result.compared} board entries compared; {ready}; {result.total} differ "
                              f"({parts}); largest difference {result.largest_gap} point(s)")
            if result.differs:
                raise CommandError(f"{result.total} board entr{'y differs' if result.total == 1 else 'ies differ'}"
                                   " from the database")
            return
        if not index.enabled():
            raise CommandError("No Redis index in embedded mode (set REDIS_URL): the database serves the boards.")
        if options["close_seasons"]:
            self.stdout.write(f"closed {services.seasons_close_ended()} season(s)")
        report = services.index_rebuild()
        self.stdout.write(self.style.SUCCESS(
            f"rebuilt: {report.members} listed, {report.global_members} on the global board, "
            f"{report.weekly_members} this week; {report.caught_up} caught up; {report.seconds:.2f} s"))
