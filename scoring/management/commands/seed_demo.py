"""``manage.py seed_demo``: the demo world (``scoring.demo.world``), then what derives from it."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.members.demo import DEMO_PASSWORD
from accounts.members.models import User
from scoring.contagion.services import contagion_rebuild
from scoring.demo.signals import world_seeded
from scoring.demo.world import DEFAULT_CREDIT, DEFAULT_GRAPH, DEFAULT_SEED, world_build


class Command(BaseCommand):
    help = (
        "Seed the demo world (idempotent): members and friendships from the real Facebook graph, "
        "twelve months of events per member from the real UCI credit data, replayed at their own "
        "dates by the real scoring code. See scoring/demo/world.py."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--members", type=int, default=None,
                            help="a connected sample of N members (default: the whole graph, 4,039)")
        parser.add_argument("--graph", default=str(DEFAULT_GRAPH), help="SNAP edge list")
        parser.add_argument("--credit", default=str(DEFAULT_CREDIT), help="UCI credit-card CSV")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--partners-file", default=None,
                            help="where the demo partners' keys go (default: .demo-partners.json next to manage.py)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if options["members"] is not None and options["members"] < 3:
            raise CommandError("--members must be at least 3 (alice, bob and carol play graph nodes).")
        begun = started = time.perf_counter()
        partners_file = Path(options["partners_file"]) if options["partners_file"] else None
        plan, report = world_build(
            members=options["members"], seed=options["seed"], graph_path=options["graph"],
            credit_path=options["credit"], partners_file=partners_file,
            progress=not options["no_progress"] and options["verbosity"] > 0,
        )
        elapsed = time.perf_counter() - started
        write = self.stdout.write
        write(f"Demo world (seed {plan.seed}) ready in {elapsed:.1f} s:")
        write(f"  members      {report.members:>8,}  ({len(plan.nodes):,} from the graph + {plan.members[-1]}, "
              f"a stranger; {report.members_created:,} new)")
        write(f"  friendships  {report.friendships:>8,}  ({report.friendships_created:,} new)")
        write(f"  events       {report.events:>8,}  ({report.events_created:,} new, "
              f"{report.events_scored:,} replayed at their own dates)")
        write(f"  ledger rows  {report.ledger_rows:>8,}  ({report.ageing_rows:,} of them time passing)")
        if options["verbosity"] > 1:
            write("  timings      " + ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items()))
        write(f"Demo login: {report.demo_member} / {DEMO_PASSWORD}  ({report.demo_friends} friends, among them "
              f"{', '.join(n for n in ('bob', 'carol') if n in plan.demo_friends)}); mallory is a stranger. "
              f"admin and moderator use the same password.")
        write(f"Partner keys for `manage.py simulate`: {report.partners_file}")
        if report.friendships_created or report.events_created:
            # The world was loaded in bulk, without signals: derive what depends on it now.
            started = time.perf_counter()
            result = contagion_rebuild(announce=False)
            write(f"Friend contagion rebuilt in {time.perf_counter() - started:.1f} s: "
                  f"{result['edges']:,} friendships, {result['scores_changed']:,} displayed scores moved "
                  f"this week ({report.contagion_moved:,} when this week opened).")
            # Badges and perks (dated when earned) and this week's board entries, from the ledger.
            started = time.perf_counter()
            member_ids = list(User.objects.filter(username__in=plan.members).values_list("pk", flat=True))
            world_seeded.send(sender=User, member_ids=member_ids, now=report.now)
            if settings.SERVICES_MODE:
                call_command("leaderboards_rebuild", stdout=self.stdout)
            write(f"Badges, perks and boards derived in {time.perf_counter() - started:.1f} s.")
        write(f"Seeded in {time.perf_counter() - begun:.1f} s in all.")
