"""Profile one scoring batch the way the worker runs it, every receiver connected.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/profe2e python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/profe2e PYTHONPATH=. \\
        python bench/profile_scoring_batch.py [--members 200] [--events 10]

Creates MEMBERS members with EVENTS on-time card repayments each (a month apart), then scores
them with ``services.members_score_pending`` twice — a first batch (members earn their first
badges) and a steady-state one (ten more events each) — and prints events/s, the query count and
the top of a cProfile by cumulative time, Credo's own frames only. Tasks run in-process (embedded
settings), so the badge and perk tasks a worker would run next are counted in the batch.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from scoring import services  # noqa: E402
from scoring.ingestion import events_store  # noqa: E402
from scoring.models import Partner, PartnerConsent  # noqa: E402
from scoring.partners import partner_create  # noqa: E402


def store(partner: Partner, items: list[dict[str, Any]]) -> None:
    """Store pending events without enqueuing their scoring (we score them by hand below)."""
    settings.SERVICES_MODE = True  # events_store then only marks members in Redis: patched out
    with mock.patch("scoring.dirty.members_mark"):
        events_store(partner=partner, items=items)
    settings.SERVICES_MODE = False


def profiled(label: str, ids: list[int]) -> None:
    profile = cProfile.Profile()
    started = time.perf_counter()
    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        profile.enable()
        applied = services.members_score_pending(member_ids=ids)
        profile.disable()
    seconds = time.perf_counter() - started
    print(f"{label}: {applied} events for {len(ids)} members in {seconds:.2f} s = {applied / seconds:.0f} events/s, "
          f"{statements} statements")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(60)
    print("\n".join(line for line in out.getvalue().splitlines() if "/scoring/" in line or "/leaderboards/" in line
                    or "/accounts/" in line)[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--events", type=int, default=10)
    options = parser.parse_args()
    partner = Partner.objects.filter(slug="acme").first()
    if partner is None:
        partner_create(name="Acme", slug="acme")
        partner = Partner.objects.get(slug="acme")
    tag = uuid.uuid4().hex[:6]
    User.objects.bulk_create([User(username=f"p{tag}{i}", email=f"p{tag}{i}@example.com")
                              for i in range(options.members)])
    members = list(User.objects.filter(username__startswith=f"p{tag}"))
    PartnerConsent.objects.bulk_create([PartnerConsent(member=m, partner=partner) for m in members])
    for m in members:
        services.member_state_ensure(member=m)
    now = timezone.now()
    items: list[dict[str, Any]] = []
    for m in members:
        for k in range(options.events):
            at = now - timedelta(days=30 * k)
            items.append({"member": m.username, "kind": "card_repayment", "amount": Decimal("100.00"),
                          "currency": "EUR", "occurred_at": at, "due_date": at.date(), "paid_date": at.date(),
                          "external_id": f"{tag}-{m.pk}-{k}"})
    ids = [m.pk for m in members]
    store(partner, items)
    profiled("first batch", ids)
    later = [dict(i, external_id=i["external_id"] + "-b", occurred_at=i["occurred_at"] + timedelta(days=1),
                  due_date=i["due_date"] + timedelta(days=1), paid_date=i["paid_date"] + timedelta(days=1))
             for i in items]
    store(partner, later)
    profiled("steady state", ids)


if __name__ == "__main__":
    main()
