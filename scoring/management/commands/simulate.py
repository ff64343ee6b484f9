"""``manage.py simulate``: live partner traffic for the demo world (``scoring.demo.simulator``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scoring.demo.simulator import DISPUTE_EVERY, run
from scoring.demo.world import DEFAULT_CREDIT, default_partners_file


class Command(BaseCommand):
    help = (
        "Stream new events for the demo world's members through the real signed partner API "
        "(needs `seed_demo` first and a running server). See scoring/demo/simulator.py."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--rate", type=float, default=2.0, help="events per second (default 2)")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        parser.add_argument("--count", type=int, default=None, help="stop after this many events")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the Credo server")
        parser.add_argument("--seed", type=int, default=1, help="the same seed sends the same sequence")
        parser.add_argument("--run-id", default=None,
                            help="tags external ids (default: the start time); reuse it to replay a run exactly")
        parser.add_argument("--every", type=int, default=20, help="print a line every N events")
        parser.add_argument("--partners-file", default=None, help="default: .demo-partners.json next to manage.py")
        parser.add_argument("--credit", default=str(DEFAULT_CREDIT), help="UCI credit-card CSV")
        parser.add_argument("--dispute-every", type=int, default=DISPUTE_EVERY,
                            help="a member of the world disputes one of their events every N events sent (the "
                                 "partners "
                                 f"answer every dispute either way; default {DISPUTE_EVERY}: never)")
        parser.add_argument("--watch-parent", action="store_true",
                            help="stop when the parent process exits (used by demo_serve)")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if options["rate"] <= 0:
            raise CommandError("--rate must be positive.")
        if options["dispute_every"] < 0:
            raise CommandError("--dispute-every must be 0 or more.")
        partners_file = Path(options["partners_file"]) if options["partners_file"] else default_partners_file()

        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            run(
                url=options["url"], partners_file=partners_file, rate=options["rate"],
                duration=options["duration"], count=options["count"], seed=options["seed"],
                run_id=options["run_id"], every=options["every"], credit_path=options["credit"],
                write=write, watch_parent=options["watch_parent"], handle_signals=True,
                dispute_every=options["dispute_every"],
            )
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
