"""Ingestion and scoring throughput in services mode (PostgreSQL + Redis + Celery workers).

Measures, on this machine, in one run:
  1. events/s accepted by the signed batch API (500 events per request) through daphne;
  2. events/s scored end to end (accepted → ledger row → score updated) with one worker, and
     until the follow-up tasks the scoring batches enqueued (contagion, badges, perks) are done;
  3. single-event API latency p50/p95/p99 at a fixed 100 requests/s;
  4. the baseline: the raw database writes one scored event needs (event insert, ledger
     insert, score-state and member updates) done in bulk, and the ratio of 2 to it.

Run: .venv/bin/python bench/bench_ingestion.py [--events 20000] [--members 1000]
     [--server uvicorn|daphne] [--single-only | --no-single] [--db NAME] [--worker-log PATH]
     (Redis: BENCH_REDIS_URL)
Loopback only; bounded in count and time. Each figure is printed with the load average, and
the single-event test also with the ASGI servers' CPU per request, which other load on the
machine disturbs far less than latency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._services import (
    ASGI_SERVER,
    asgi_servers,
    cpu_seconds,
    loadavg,
    machine_busy,
    percentile,
    process,
    process_tree,
    recreate_database,
    services_env,
    setup_django,
    started,
)

DB = "credo_bench_ingest"


def event(member: str, n: int, now: datetime) -> dict:
    due = (now - timedelta(days=80 - n % 30)).date()
    late = [0, 0, 0, 0, 3, 15, 40][n % 7]
    return {"member": member, "kind": "card_repayment", "amount": "120.00", "currency": "EUR",
            "occurred_at": (now - timedelta(days=80 - n % 30)).isoformat(), "due_date": due.isoformat(),
            "paid_date": (due + timedelta(days=late)).isoformat(), "external_id": f"b-{uuid.uuid4().hex}"}


def post(conn: http.client.HTTPConnection, path: str, body: bytes, key, secret) -> tuple[int, float]:
    from scoring.ingestion.partners import sign

    ts = int(time.time())
    headers = {"Content-Type": "application/json", "X-Credo-Key": key, "X-Credo-Timestamp": str(ts),
               "X-Credo-Signature": sign(secret, ts, body), "Idempotency-Key": uuid.uuid4().hex}
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--single-seconds", type=int, default=20)
    parser.add_argument("--asgi-processes", type=int, default=2,
                        help="ASGI server processes sharing the listening socket for the single-event test")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default=ASGI_SERVER)
    parser.add_argument("--rate", type=int, default=100, help="single-event requests per second offered")
    parser.add_argument("--spread", choices=["socket", "ports"], default="socket",
                        help="single-event test: the servers share one listening socket (the kernel picks a "
                             "process per connection) or each has its own port and the client threads' "
                             "keep-alive connections are spread over them evenly, as behind a load balancer")
    parser.add_argument("--single-only", action="store_true", help="only the single-event test (3)")
    parser.add_argument("--no-single", action="store_true", help="skip the single-event test (3)")
    parser.add_argument("--keep-setup-tasks", action="store_true",
                        help="leave the tasks the setup enqueued (starting scores) for the end-to-end phase to run, "
                             "as the benchmark did before (they are then counted in the end-to-end time)")
    parser.add_argument("--db", default=DB, help="the PostgreSQL database to (re)create")
    parser.add_argument("--worker-log", default="",
                        help="append the worker's log (level INFO: every task received and done, with its time) here")
    args = parser.parse_args()
    db = args.db

    recreate_database(db)
    setup_django(db)
    import redis

    from accounts.members.models import User
    from scoring.ingestion.consent import consent_grant
    from scoring.ingestion.models import Partner
    from scoring.ingestion.partners import partner_create
    from scoring.ledger.services import member_state_ensure

    redis.Redis.from_url(services_env(db)["REDIS_URL"]).flushdb()
    issued = partner_create(name="Bench Bank", slug="bench")
    partner = Partner.objects.get(slug="bench")
    User.objects.bulk_create([User(username=f"u{i}", email=f"u{i}@bench.local") for i in range(args.members)])
    for user in User.objects.all():
        consent_grant(member=user, partner=partner)
        member_state_ensure(member=user)
    usernames = [f"u{i}" for i in range(args.members)]
    now = datetime.now(UTC)

    env = services_env(db)
    print(f"Credo ingestion benchmark: {args.events} events, {args.members} members, 2 cores, "
          f"PostgreSQL + Redis on loopback, {args.server}; load average {loadavg()} at the start")
    # One worker process that also runs the beat schedule (-B): the periodic batch scorer
    # (every second) picks up the members the API queued.
    worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--concurrency=1",
              f"--loglevel={'INFO' if args.worker_log else 'WARNING'}", "--without-mingle", "--without-gossip",
              "--schedule", str(Path(tempfile.mkdtemp()) / "beat-schedule")]
    broker = redis.Redis.from_url(env["REDIS_URL"])
    if not args.keep_setup_tasks:
        # Creating 1,000 starting scores above (one member at a time) left a contagion task and a
        # badges task per member in the queue. They are the setup's work, not the events': run
        # them now, so the end-to-end figure below measures the events' pipeline only.
        left = broker.llen(CELERY_QUEUE)
        with process(worker, env, log=args.worker_log or None):
            seconds = drained(broker, time.perf_counter() + 600)
        print(f"  setup: the worker ran the {left} tasks creating the members' starting scores left in {seconds:.1f} s "
              f"(not measured; --keep-setup-tasks measures them as part of the end-to-end figure)")
    if not args.single_only:
        accept_and_score(args, env, worker, issued, usernames, now, partner, broker)
    if not args.no_single:
        single(args, env, worker, issued, usernames, now)


#: Celery's queue on the Redis broker, and the hash holding the tasks a worker has taken
#: but not acknowledged yet (every task here is ``acks_late``: running ones sit there).
CELERY_QUEUE, CELERY_UNACKED = "celery", "unacked"


def drained(broker, deadline: float) -> float:
    """Wait until the worker has run every queued task (the queue and the taken-but-unacknowledged
    set both empty on three polls in a row, 0.1 s apart); return the seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while quiet < 3 and time.perf_counter() < deadline:
        quiet = quiet + 1 if broker.llen(CELERY_QUEUE) == 0 and broker.hlen(CELERY_UNACKED) == 0 else 0
        time.sleep(0.1)
    return time.perf_counter() - started


def accept_and_score(args, env, worker, issued, usernames, now, partner, broker) -> None:
    from django.db import connection

    from accounts.members.models import User
    from scoring.ingestion.models import Event
    from scoring.ledger.models import ScoreChange

    # 1. Batch API acceptance, workers stopped (so the API is measured alone).
    batches = [json.dumps({"events": [event(usernames[(b * 500 + i) % args.members], i, now) for i in range(500)]}
                          ).encode() for b in range(args.events // 500)]
    with asgi_servers(env, 1, args.server) as [port]:
        lock = threading.Lock()
        queue = list(batches)
        statuses: list[int] = []

        def sender() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                status, _ = post(conn, "/api/v1/events/batch/", body, issued.key_id, issued.secret)
                statuses.append(status)

        started = time.perf_counter()
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accept_seconds = time.perf_counter() - started
    accepted = Event.objects.count()
    print(f"  batch API (1 {args.server} process): {accepted} events accepted in {accept_seconds:.2f} s = "
          f"{accepted / accept_seconds:,.0f} events/s (statuses {sorted(set(statuses))}); load {loadavg()}")

    # 2. End to end: one worker drains what the API enqueued.
    with process(worker, env, log=args.worker_log or None):
        started = time.perf_counter()
        deadline = started + 600
        while time.perf_counter() < deadline:
            left = Event.objects.filter(status="pending").count()
            if left == 0:
                break
            time.sleep(0.25)
        e2e_seconds = time.perf_counter() - started
        # What the scoring batches handed on (friend contagion, badges, perks) runs after the
        # events are scored; a worker that cannot keep up with it falls behind for good.
        settled_seconds = e2e_seconds + drained(broker, deadline)
    scored = ScoreChange.objects.filter(cause="event").count()
    print(f"  end to end (1 worker + beat, concurrency 1): {scored} events scored in {e2e_seconds:.2f} s = "
          f"{scored / e2e_seconds:,.0f} events/s; load {loadavg()}")
    print(f"  ... and every follow-up task done (contagion, badges, perks: the queue empty) after "
          f"{settled_seconds:.2f} s = {scored / settled_seconds:,.0f} events/s")

    # 4. Baseline: the raw writes of one scored event, in bulk, in one transaction.
    n = scored
    member_ids = list(User.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("BEGIN")
        cursor.execute("CREATE TEMP TABLE raw_event (LIKE scoring_event INCLUDING DEFAULTS) ON COMMIT DROP")
        cursor.execute("CREATE TEMP TABLE raw_change (LIKE scoring_scorechange INCLUDING DEFAULTS) ON COMMIT DROP")
        rows = [(i, member_ids[i % len(member_ids)], partner.pk, f"raw-{i}", "card_repayment", 120, "EUR", now,
                 "scored", now, 1, "") for i in range(n)]
        cursor.executemany(
            "INSERT INTO raw_event (id, member_id, partner_id, external_id, kind, amount, currency, occurred_at,"
            " status, received_at, attempts, last_error, missed, merchant_category) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,false,'')", rows)
        cursor.executemany(
            "INSERT INTO raw_change (id, member_id, created_at, cause, event_id, new_score, new_base, new_social,"
            " new_factors, explanation) VALUES (%s,%s,%s,'event',%s,700,700.0,0.0,'{}','x')",
            [(i, member_ids[i % len(member_ids)], now, i) for i in range(n)])
        cursor.executemany("UPDATE scoring_scorestate SET score = score WHERE member_id = %s",
                           [(member_ids[i % len(member_ids)],) for i in range(n)])
        cursor.executemany("UPDATE accounts_user SET score = score WHERE id = %s",
                           [(member_ids[i % len(member_ids)],) for i in range(n)])
        cursor.execute("COMMIT")
        raw_seconds = time.perf_counter() - started
    print(f"  baseline raw writes for {n} scored events (4 statements each, one transaction): "
          f"{raw_seconds:.2f} s = {n / raw_seconds:,.0f} events/s")
    print(f"  ratio end-to-end cost per event / raw writes per event: {e2e_seconds / raw_seconds:.1f}x")


def single(args, env, worker, issued, usernames, now) -> None:
    """3. Single-event latency at a fixed rate (workers running, as in production)."""
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    servers: list = []
    with asgi_servers(env, args.asgi_processes, args.server, procs_out=servers, spread=args.spread) as ports, \
            process(worker, env, log=args.worker_log or None) as worker_proc:
        interval = 1 / args.rate
        total = args.rate * args.single_seconds
        lock = threading.Lock()
        next_index = [0]
        # The worker running as in production: started (its pool child and beat forked) before
        # the first request. It, and this process (the load generator), share the two cores with
        # the servers: their CPU is printed too.
        started(lambda: process_tree(worker_proc.pid), at_least=2)
        worker_pids = process_tree(worker_proc.pid)
        load_before = loadavg()
        cpu_before = cpu_seconds([p.pid for p in servers])
        each_before = [cpu_seconds([p.pid]) for p in servers]
        worker_before, client_before = cpu_seconds(worker_pids), time.process_time()
        busy_before, total_before = machine_busy()
        t0 = time.perf_counter()

        def one_client(port: int) -> None:
            nonlocal errors
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= total:
                    return
                body = json.dumps(event(usernames[i % args.members], i, now)).encode()
                due = t0 + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                # How late this request leaves against the schedule: a load generator that cannot
                # keep up (CPU, GIL, all its connections busy) shows here, not in the latencies.
                lags.append(time.perf_counter() - due)
                status, seconds = post(conn, "/api/v1/events/", body, issued.key_id, issued.secret)
                latencies.append(seconds)
                if status != 201:
                    errors += 1

        # Each client thread keeps one connection; with several ports they take turns over them.
        threads = [threading.Thread(target=one_client, args=(ports[k % len(ports)],)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        achieved = len(latencies) / elapsed
        server_cpu = cpu_seconds([p.pid for p in servers]) - cpu_before
        # One process serves each keep-alive connection: how evenly the kernel spread them.
        each = [(cpu_seconds([p.pid]) - before) / elapsed for p, before in zip(servers, each_before, strict=True)]
        worker_cpu = cpu_seconds(worker_pids) - worker_before
        client_cpu = time.process_time() - client_before
        busy_after, total_after = machine_busy()
        busy = (busy_after - busy_before) / (total_after - total_before)  # all cores, everybody's work
    print(f"  single-event API, {args.asgi_processes} {args.server} process(es) ({args.spread}) + 1 worker, "
          f"{args.rate} req/s offered, "
          f"achieved {achieved:.0f} req/s: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
          f"{errors} errors; sent behind schedule: p95 {percentile(lags, 95) * 1000:.1f} ms, "
          f"max {max(lags, default=0) * 1000:.1f} ms; "
          f"ASGI servers' CPU {server_cpu / max(1, len(latencies)) * 1000:.2f} ms/request "
          f"({server_cpu / elapsed:.2f} cores: {' + '.join(f'{c:.2f}' for c in each)}); "
          f"worker {worker_cpu / elapsed:.2f} cores, load generator {client_cpu / elapsed:.2f} cores; "
          f"machine {busy:.0%} busy; load {load_before} before, {loadavg()} after")


if __name__ == "__main__":
    main()
