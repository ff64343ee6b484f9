"""``manage.py leaderboards_rebuild``: restore the Redis index from the database.

Run it after Redis lost its data (the app also notices an empty index and rebuilds by itself);
``--close-seasons`` first closes the weekly seasons that ended.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leaderboards.boards import index, services


class Command(BaseCommand):
    help = "Rebuild the leaderboards' Redis index from the database (services mode)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--close-seasons", action="store_true", help="Also close weekly seasons that ended.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not index.enabled():
            raise CommandError("No Redis index in embedded mode (set REDIS_URL): the database serves the boards.")
        if options["close_seasons"]:
            self.stdout.write(f"closed {services.seasons_close_ended()} season(s)")
        report = services.index_rebuild()
        self.stdout.write(self.style.SUCCESS(
            f"rebuilt: {report.members} listed, {report.global_members} on the global board, "
            f"{report.weekly_members} this week; {report.caught_up} caught up; {report.seconds:.2f} s"))
