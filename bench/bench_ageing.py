"""The daily ageing sweep at scale (``scoring.ledger.ageing``): how long moving every score to a
new date takes.

    BENCH_PG=postgres://postgres@127.0.0.1:5432 python bench/bench_ageing.py [--members 20000]
        [--months 12] [--db ageing_bench]

Creates MEMBERS members with MONTHS monthly card repayments and bills each (one in eight of them
late or missed), scores them with the batch scorer on a day, then times ``ageing_sweep`` one day
later (a normal night: few displayed scores move) and 30 days later (after a month without a
sweep: most move and get a ledger row). Services mode as a worker runs it: the announcements of
moved scores are sent (the follow-up tasks go to the broker, not run here).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._services import recreate_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--db", default="ageing_bench")
    args = parser.parse_args()

    recreate_database(args.db)
    setup_django(args.db)
    # After django.setup(): the models need the app registry.
    from accounts.members.models import User
    from scoring.ingestion.models import Event, Partner
    from scoring.ingestion.partners import partner_create
    from scoring.ledger.ageing import ageing_sweep
    from scoring.ledger.bulk import members_score_pending_bulk
    from scoring.ledger.models import ScoreChange

    partner_create(name="Bench Bank", slug="bench")
    partner = Partner.objects.get(slug="bench")
    User.objects.bulk_create([User(username=f"m{i}", email=f"m{i}@example.org") for i in range(args.members)],
                             batch_size=2000)
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    day = date(2026, 6, 1)
    rng = random.Random(1)
    events = []
    for member_id in ids:
        for month in range(args.months):
            due = day - timedelta(days=30 * month + 5)
            for kind in ("card_repayment", "bill_payment"):
                roll = rng.random()
                late = None if roll < 0.04 else 40 if roll < 0.125 else 0
                events.append(Event(member_id=member_id, partner=partner, external_id=f"{member_id}-{kind}-{month}",
                                    kind=kind, amount=Decimal(rng.randint(20, 400)), currency="EUR",
                                    occurred_at=datetime(due.year, due.month, due.day, 12, tzinfo=UTC),
                                    due_date=due, paid_date=None if late is None else due + timedelta(days=late),
                                    missed=late is None))
    Event.objects.bulk_create(events, batch_size=5000)
    started = time.perf_counter()
    members_score_pending_bulk(member_ids=ids, announce=False, now=datetime(2026, 6, 1, 12, tzinfo=UTC))
    print(f"{args.members:,} members, {len(events):,} events scored in {time.perf_counter() - started:.1f} s")

    for days in (1, 30):
        before = ScoreChange.objects.filter(cause="ageing").count()
        started = time.perf_counter()
        ageing_sweep(as_of=day + timedelta(days=days))
        elapsed = time.perf_counter() - started
        rows = ScoreChange.objects.filter(cause="ageing").count() - before
        print(f"sweep {days:>2} day(s) later: {elapsed:.1f} s, {args.members / elapsed:,.0f} members/s, "
              f"{rows:,} ageing rows ({100 * rows / args.members:.0f} % of members moved)")


if __name__ == "__main__":
    main()
