"""Profile scoring batches the way the worker runs them, every receiver connected.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/profe2e python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/profe2e [REDIS_URL=redis://127.0.0.1:6379/12] PYTHONPATH=. \\
        python bench/profile_scoring_batch.py [--members 200] [--events 10] [--ticks 3] [--top 40] [--webhooks]

Creates MEMBERS members with EVENTS on-time card repayments each (a month apart), then scores
them with ``services.members_score_pending`` — a first batch (members earn their first badges),
a steady-state batch (EVENTS more each, the benchmark's mix of on-time and late payments) and
TICKS batches of one event per member (what one tick of ``score_dirty_members`` takes while
single events arrive) — and prints, per batch, events/s, the CPU time, the statements by kind,
and the top of a cProfile by cumulative time (Credo's own frames). Every task the batch enqueues
(contagion, badges, perks) runs in-process right after commit, and the live messages leave as in
a worker task (one ``broadcast.batch()``), so the work a worker does next is counted in the batch.
With REDIS_URL set this is services mode (the Redis index and channel layer); without, embedded.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from collections import Counter
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

from accounts.members.models import User  # noqa: E402
from config.celery import app  # noqa: E402
from leaderboards.live import broadcast  # noqa: E402
from scoring.ingestion.models import Partner, PartnerConsent  # noqa: E402
from scoring.ingestion.partners import partner_create  # noqa: E402
from scoring.ingestion.services import events_store  # noqa: E402
from scoring.ledger import services  # noqa: E402
from scoring.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookType  # noqa: E402
from scoring.webhooks.receiver import Receiver  # noqa: E402
from scoring.webhooks.services import webhook_endpoint_set  # noqa: E402

# The follow-up tasks run here, after each commit, in services mode too.
app.conf.task_always_eager = True


def store(partner: Partner, items: list[dict[str, Any]]) -> None:
    """Store pending events without enqueuing their scoring (we score them by hand below)."""
    mode = settings.SERVICES_MODE
    settings.SERVICES_MODE = True  # events_store then only marks members in Redis: patched out
    with mock.patch("scoring.ingestion.dirty.members_mark"):
        events_store(partner=partner, items=items)
    settings.SERVICES_MODE = mode


def profiled(label: str, ids: list[int], top: int) -> None:
    profile = cProfile.Profile()
    statements: Counter[str] = Counter()

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[sql.split()[0].upper()] += 1
        return execute(sql, params, many, context)

    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        if top:
            profile.enable()
        with broadcast.batch():
            applied = services.members_score_pending(member_ids=ids)
        if top:
            profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label}: {applied} events for {len(ids)} members in {seconds:.2f} s = {applied / seconds:.0f} events/s, "
          f"{cpu:.2f} s CPU, {sum(statements.values())} statements {dict(statements.most_common())}")
    if top:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
            r"/(scoring|leaderboards|accounts|social|config)/", top)
        print("\n".join(line for line in out.getvalue().splitlines() if "/" in line))


def card(member: User, tag: str, at: Any, late_days: int = 0) -> dict[str, Any]:
    return {"member": member.username, "kind": "card_repayment", "amount": Decimal("100.00"), "currency": "EUR",
            "occurred_at": at, "due_date": at.date(), "paid_date": at.date() + timedelta(days=late_days),
            "external_id": f"{tag}-{uuid.uuid4().hex}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=3, help="batches of one event per member")
    parser.add_argument("--top", type=int, default=40, help="profile lines per batch (0: no profile)")
    parser.add_argument("--webhooks", action="store_true",
                        help="Acme listens for event.scored at a receiver on this machine: the batch writes its "
                             "webhooks and, after commit, sends them (in-process, as a worker's next task would)")
    options = parser.parse_args()
    partner = Partner.objects.filter(slug="acme").first()
    if partner is None:
        partner_create(name="Acme", slug="acme")
        partner = Partner.objects.get(slug="acme")
    receiver = None
    if options.webhooks:
        settings.WEBHOOKS_ALLOW_LOCAL = True
        receiver = Receiver().start()
        WebhookEndpoint.objects.filter(partner=partner).delete()
        WebhookMessage.objects.filter(partner=partner).delete()  # an earlier run's
        configured = webhook_endpoint_set(partner=partner, url=receiver.url, types=[WebhookType.EVENT_SCORED],
                                          actor_name="bench")
        receiver.secrets = [configured.secret or ""]
    tag = uuid.uuid4().hex[:6]
    User.objects.bulk_create([User(username=f"p{tag}{i}", email=f"p{tag}{i}@example.com")
                              for i in range(options.members)])
    members = list(User.objects.filter(username__startswith=f"p{tag}"))
    PartnerConsent.objects.bulk_create([PartnerConsent(member=m, partner=partner) for m in members])
    for m in members:
        services.member_state_ensure(member=m)
    ids = [m.pk for m in members]
    now = timezone.now()
    print(f"{'services' if settings.SERVICES_MODE else 'embedded'} mode, {connection.vendor}")
    store(partner, [card(m, tag, now - timedelta(days=30 * k)) for m in members for k in range(options.events)])
    profiled("first batch", ids, options.top)
    # The benchmark's mix: 4 of 7 payments on time, the others 3, 15 and 40 days late.
    late = [0, 0, 0, 0, 3, 15, 40]
    store(partner, [card(m, tag, now - timedelta(days=30 * k, hours=1), late[(i + k) % 7])
                    for i, m in enumerate(members) for k in range(options.events)])
    profiled("steady state", ids, options.top)
    for tick in range(options.ticks):
        store(partner, [card(m, tag, now - timedelta(hours=2 + tick), late[(i + tick) % 7])
                        for i, m in enumerate(members)])
        profiled(f"tick {tick + 1} (one event per member)", ids, options.top if tick == options.ticks - 1 else 0)
    if receiver is not None:
        receiver.stop()
        print(f"webhooks: {len(receiver.messages())} received and verified, "
              f"{WebhookMessage.objects.filter(partner=partner, status='pending').count()} still pending")


if __name__ == "__main__":
    main()
