"""Fault injection in services mode: do derived state and the exactly-once promise survive crashes,
outages and churn? (``make chaos``; not part of ``make test``.)

One run, on this machine, loopback only:

* its own PostgreSQL database (``--db``, recreated) and its OWN Redis server (``redis-server`` on
  ``--redis-port``, 6390 by default, no persistence), which it stops and starts again — the
  shared Redis on 6379 is never touched;
* the real services: one uvicorn process serving ``config.asgi``, one Celery worker (prefork, two
  children) and Celery beat, exactly as in production (``config.settings.local``, REDIS_URL set);
* a partner sending signed events through the API at ``--rate`` per second for ``--seconds``,
  retrying what is not accepted (409 in flight / lock conflict, 503, errors) as a partner would,
  with five kinds of duplicate delivery mixed in: the same request replayed with its key, the
  same event under a new key, two identical requests at once with one key, a batch re-sending
  events accepted before, and a batch holding one event twice;
* faults while it sends: SIGKILL of worker children (counted when a worker transaction was open
  at that moment), two Redis outages (the server stopped, then started empty), rounds of
  ``pg_terminate_backend`` on every connection to the database, and friendship churn on a hub;
* then, with no rebuild of anything, it waits for the system to heal by itself and measures
  every ``--poll`` seconds: events still pending, ``contagion_check`` (the social points members
  are shown against an exact solve) and ``boards_check`` (every board entry against the database).

It prints one table (sent, accepted, scored once, lost, duplicated, 5xx, the largest
displayed-point gap, board differences, time to heal) and the faults injected, and writes them as
JSON to the run's directory. docs/reliability.md records the results.

Run: .venv/bin/python bench/chaos.py [--seconds 150] [--rate 25] [--members 300] [--db NAME]
     [--redis-port 6390] [--heal-timeout 240]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._services import PG, ROOT, free_port, process_tree, recreate_database, services_env, wait_for_port

#: The database's name: DATABASE_URL's (``credo`` without one) + ``_chaos``.
DEFAULT_DB = (urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "credo") + "_chaos"
WORKER_APP = "credo-chaos-worker"  # the worker's application_name in pg_stat_activity


# --- processes ---------------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class OwnRedis:
    """A redis-server of our own (no persistence: a restart comes back empty, as after a crash)."""

    def __init__(self, port: int, workdir: Path, log: Path) -> None:
        self.port, self.workdir, self.log = port, workdir, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not port_free(self.port):
            raise SystemExit(f"something already listens on 127.0.0.1:{self.port}: pick another --redis-port")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir), "--loglevel", "warning"], stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def spawn(args: list[str], env: dict[str, str], log: Path, root: Path = ROOT) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=out,
                                stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- the world -------------------------------------------------------------------------------------


def seed(members: int, hub_friends: int, rng: random.Random) -> tuple[Any, list[str]]:
    """Members with a few scored payments each, consent to one partner, a hub with
    ``hub_friends`` friends and two more friends for everyone, contagion and boards rebuilt."""
    from accounts.members.models import User
    from scoring.contagion.services import contagion_rebuild
    from scoring.ingestion.models import Event, Partner, PartnerConsent
    from scoring.ingestion.partners import partner_create
    from scoring.ledger.bulk import members_score_pending_bulk
    from social.graph.models import Friendship

    issued = partner_create(name="Chaos Bank", slug="chaos")
    partner = Partner.objects.get(slug="chaos")
    names = [f"c{i:04d}" for i in range(members)]
    User.objects.bulk_create([User(username=name, email=f"{name}@chaos.local") for name in names])
    users = list(User.objects.order_by("pk"))
    PartnerConsent.objects.bulk_create([PartnerConsent(member=u, partner=partner) for u in users])
    now = datetime.now(UTC)
    Event.objects.bulk_create([
        Event(member=u, partner=partner, external_id=f"seed-{u.pk}-{n}", **payment(rng, now)) for u in users
        for n in range(3)])
    members_score_pending_bulk(member_ids=[u.pk for u in users], announce=False)
    pairs = {(users[0].pk, u.pk) for u in users[1:hub_friends + 1]}
    for u in users[1:]:
        for friend in rng.sample(users[1:], 2):
            if friend.pk != u.pk:
                pairs.add((min(u.pk, friend.pk), max(u.pk, friend.pk)))
    Friendship.objects.bulk_create([Friendship(member_a_id=a, member_b_id=b, accepted_at=now - timedelta(days=30))
                                    for a, b in sorted(pairs)])
    contagion_rebuild(announce=False)
    return issued, names


def payment(rng: random.Random, now: datetime) -> dict[str, Any]:
    """The fields of one event (no member, no external id)."""
    kind = rng.choice(["card_repayment", "bill_payment", "bill_payment", "purchase"])
    occurred = now - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 1000))
    fields: dict[str, Any] = {"kind": kind, "amount": f"{rng.randint(10, 400)}.00", "currency": "EUR",
                              "occurred_at": occurred}
    if kind != "purchase":
        due = occurred.date()
        fields["due_date"] = due
        if rng.random() < 0.1:
            fields["missed"] = True
        else:
            fields["paid_date"] = min(due + timedelta(days=rng.choice([0, 0, 0, 2, 15, 40, 95])), now.date())
    return fields


def wire(member: str, external_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"member": member, "external_id": external_id,
            **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fields.items()}}


# --- the partner -------------------------------------------------------------------------------------


class Partner:
    """Sends events the way a careful partner does: signed, each request under its own
    Idempotency-Key, sent again (same key, same body) until it is answered for good."""

    def __init__(self, port: int, key_id: str, secret: str) -> None:
        self.port, self.key_id, self.secret = port, key_id, secret
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()  # "201", "409 lock_conflict", "503 service_unavailable", …
        self.accepted: set[str] = set()
        self.deliveries: Counter[str] = Counter()
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        if getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.local.conn

    def once(self, path: str, body: bytes, key: str) -> tuple[int, dict[str, Any]]:
        from scoring.ingestion.partners import sign

        ts = int(time.time())
        headers = {"Content-Type": "application/json", "X-Credo-Key": self.key_id, "X-Credo-Timestamp": str(ts),
                   "X-Credo-Signature": sign(self.secret, ts, body), "Idempotency-Key": key}
        try:
            conn = self.conn()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            with self.lock:
                self.statuses["connection error"] += 1
            return 0, {}
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        code = answer.get("code", "") if response.status >= 400 else ""
        if answer.get("reason"):
            code += f" ({answer['reason']})"
        with self.lock:
            self.statuses[f"{response.status} {code}".strip()] += 1
        return response.status, answer

    def send(self, path: str, payload: Any, key: str | None = None) -> tuple[int, dict[str, Any]]:
        """Until answered for good (2xx, or a refusal that will not change)."""
        body = json.dumps(payload).encode()
        key = key or uuid.uuid4().hex
        for _ in range(30):
            status, answer = self.once(path, body, key)
            if 200 <= status < 300:
                self.record(answer)
                return status, answer
            if status in (400, 403, 422) or (status == 409 and answer.get("code") == "conflicting_duplicate"):
                return status, answer
            time.sleep(1.0 if status == 503 else 0.3)
        return 0, {}

    def record(self, answer: dict[str, Any]) -> None:
        events = answer.get("events", [answer])
        with self.lock:
            self.accepted.update(e["external_id"] for e in events if "external_id" in e)


def load(partner: Partner, names: list[str], seconds: float, rate: float, threads: int, seed_: int,
         sent: set[str]) -> None:
    """``rate`` new events per second for ``seconds``; one in four deliveries is a duplicate."""
    rng = random.Random(seed_)
    started = time.monotonic()
    counter = iter(range(10**9))
    lock = threading.Lock()
    done: list[dict[str, Any]] = []  # events accepted so far, for re-deliveries

    def next_event() -> tuple[int, dict[str, Any]] | None:
        with lock:
            i = next(counter)
            due = started + i / rate
            if due - started > seconds:
                return None
            external_id = f"e{i:06d}"
            sent.add(external_id)
            return i, wire(rng.choice(names), external_id, payment(rng, datetime.now(UTC)))

    def worker() -> None:
        local = random.Random(rng.random())
        while (item := next_event()) is not None:
            i, event = item
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = ["plain"] * 12 + ["replay", "new key", "parallel", "batch again", "twice in a batch"]
            chosen = kind[i % len(kind)]
            with partner.lock:
                partner.deliveries[chosen] += 1
            if chosen == "parallel":
                key = uuid.uuid4().hex
                twin = threading.Thread(target=partner.send, args=("/api/v1/events/", event, key))
                twin.start()
                partner.send("/api/v1/events/", event, key)
                twin.join()
            elif chosen == "batch again" and done:
                with lock:
                    earlier = local.sample(done, min(3, len(done)))
                partner.send("/api/v1/events/batch/", {"events": [event, *earlier]})
            elif chosen == "twice in a batch":
                partner.send("/api/v1/events/batch/", {"events": [event, event]})
            else:
                key = uuid.uuid4().hex
                partner.send("/api/v1/events/", event, key)
                if chosen == "replay":
                    partner.send("/api/v1/events/", event, key)
                elif chosen == "new key":
                    partner.send("/api/v1/events/", event)
            with lock:
                done.append(event)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


# --- the faults ----------------------------------------------------------------------------------------


class Faults:
    def __init__(self, dsn: str, db: str, worker: subprocess.Popen, redis: OwnRedis, rng: random.Random) -> None:
        self.dsn, self.db, self.worker, self.redis, self.rng = dsn, db, worker, redis, rng
        self.counts: Counter[str] = Counter()
        self.log: list[str] = []
        self.stop = threading.Event()
        self.last_fault_end = time.monotonic()

    def note(self, text: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {text}")

    def admin(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(f"{self.dsn}/{self.db}", autocommit=True, application_name="credo-chaos-admin") as conn:
            return conn.execute(sql, params).fetchall()

    def kill_children(self, until: float, every: float) -> None:
        while time.monotonic() < until and not self.stop.is_set():
            children = process_tree(self.worker.pid)[1:]
            if children:
                in_tx = self.admin("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
                                   " AND state IN ('active', 'idle in transaction')", (self.db, WORKER_APP))[0][0]
                victim = self.rng.choice(children)
                try:
                    os.kill(victim, signal.SIGKILL)
                    self.counts["worker children SIGKILLed"] += 1
                    if in_tx:
                        self.counts["… of them while a worker transaction was open"] += 1
                except ProcessLookupError:
                    pass
            time.sleep(every * self.rng.uniform(0.5, 1.5))
        self.last_fault_end = time.monotonic()

    def redis_outage(self, seconds: float) -> None:
        self.note(f"Redis stopped for {seconds:.0f} s")
        self.redis.stop()
        self.counts["Redis outages"] += 1
        time.sleep(seconds)
        self.redis.start()
        self.note("Redis started again, empty")
        self.last_fault_end = time.monotonic()

    def terminate_connections(self, until: float, every: float) -> None:
        while time.monotonic() < until and not self.stop.is_set():
            killed = self.admin("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
                                " AND pid <> pg_backend_pid()", (self.db,))[0][0]
            self.counts["pg_terminate_backend rounds"] += 1
            self.counts["connections terminated"] += killed
            time.sleep(every)
        self.last_fault_end = time.monotonic()

    def churn(self, until: float, every: float, hub: Any, others: list[Any]) -> None:
        from django.db import close_old_connections

        from social.graph import services as social
        from social.graph.models import Friendship

        while time.monotonic() < until and not self.stop.is_set():
            friend = self.rng.choice(others)
            try:
                if Friendship.objects.between(hub.pk, friend.pk).active().exists():
                    social.friendship_unfriend(member=hub, username=friend.username)
                    self.counts["friendships ended (hub)"] += 1
                else:
                    sent = social.friend_request_send(from_user=hub, to_username=friend.username)
                    if sent.request.status == "pending":
                        social.friend_request_accept(request=sent.request, by=friend)
                    self.counts["friendships started (hub)"] += 1
            except Exception:  # a terminated connection, Redis away while enqueueing: as any client
                self.counts["churn writes refused (retried later)"] += 1
                close_old_connections()
            time.sleep(every)
        self.last_fault_end = time.monotonic()


def run_faults(faults: Faults, seconds: float, hub: Any, others: list[Any]) -> None:
    """The schedule, scaled to ``seconds`` of load (fractions of it)."""
    t0 = time.monotonic()

    def at(fraction: float) -> float:
        return t0 + fraction * seconds

    def wait_until(moment: float) -> None:
        while time.monotonic() < moment and not faults.stop.is_set():
            time.sleep(0.2)

    def thread(target: Callable[..., None], *args: Any) -> threading.Thread:
        t = threading.Thread(target=target, args=args)
        t.start()
        return t

    churn = thread(faults.churn, at(0.85), 0.3, hub, others)
    wait_until(at(0.1))
    faults.note("SIGKILLs of worker children start")
    kills = thread(faults.kill_children, at(0.3), 2.0)
    wait_until(at(0.35))
    faults.redis_outage(max(8.0, 0.1 * seconds))
    wait_until(at(0.5))
    faults.note("pg_terminate_backend rounds start")
    terminations = thread(faults.terminate_connections, at(0.65), 2.0)
    kills.join()
    wait_until(at(0.6))
    kills = thread(faults.kill_children, at(0.8), 2.5)
    terminations.join()
    wait_until(at(0.85))
    faults.redis_outage(max(6.0, 0.07 * seconds))
    kills.join()
    churn.join()
    faults.note("last fault over")


# --- healing -----------------------------------------------------------------------------------------


def measure() -> dict[str, Any]:
    from leaderboards.boards.check import boards_check
    from scoring.contagion.services import contagion_check
    from scoring.ingestion.models import Event

    contagion = contagion_check()
    boards = boards_check()
    return {"pending": Event.objects.filter(status="pending").count(),
            "points_gap": contagion["largest_points_gap"], "scores_differ": contagion["scores_differ"],
            "contagion_differs": contagion["differs"],
            "edges_off": contagion["edges_missing"] + contagion["edges_extra"],
            "bases_unfolded": contagion["bases_unfolded"], "board_differences": boards.total,
            "index_ready": boards.index_ready}


def heal(timeout: float, poll: float, since: float) -> tuple[float | None, dict[str, Any], list[str]]:
    """Poll until nothing is pending and both checks pass; return (seconds after ``since``, last
    figures, the trail)."""
    from django.db import close_old_connections

    trail: list[str] = []
    deadline = time.monotonic() + timeout
    figures: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            figures = measure()
        except Exception as exc:  # the database or Redis still coming back
            trail.append(f"{time.monotonic() - since:6.1f} s: check failed ({type(exc).__name__}: {exc})")
            close_old_connections()
            time.sleep(poll)
            continue
        trail.append(f"{time.monotonic() - since:6.1f} s: {figures}")
        if not figures["pending"] and not figures["contagion_differs"] and not figures["board_differences"]:
            return time.monotonic() - since, figures, trail
        time.sleep(poll)
    return None, figures, trail


# --- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150, help="seconds of load, faults inside them")
    parser.add_argument("--rate", type=float, default=25, help="new events per second")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--hub-friends", type=int, default=150)
    parser.add_argument("--senders", type=int, default=6, help="partner threads")
    parser.add_argument("--db", default=DEFAULT_DB, help="the PostgreSQL database to (re)create")
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("CHAOS_REDIS_PORT", "6390")))
    parser.add_argument("--heal-timeout", type=float, default=240)
    parser.add_argument("--poll", type=float, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--services-root", type=Path, default=ROOT,
                        help="run the API, worker and beat from this checkout (e.g. the code before a change, "
                             "to compare); the world and the checks are this checkout's")
    args = parser.parse_args()
    services_root = args.services_root.resolve()
    rng = random.Random(args.seed)
    run_dir = Path(tempfile.mkdtemp(prefix="credo-chaos-"))
    redis = OwnRedis(args.redis_port, run_dir, run_dir / "redis.log")
    redis.start()
    procs: list[subprocess.Popen] = []
    try:
        redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
        env = {**services_env(args.db), "REDIS_URL": redis_url, "CONTAGION_VESTING_DAYS": "0",
               "CELERY_VISIBILITY_TIMEOUT": "60", "LOG_LEVEL": "WARNING"}
        recreate_database(args.db)
        os.environ.update(env)
        import django

        django.setup()
        logging.getLogger().handlers = [logging.FileHandler(run_dir / "chaos-process.log")]
        issued, names = seed(args.members, args.hub_friends, rng)
        from accounts.members.models import User
        from leaderboards.boards.services import index_rebuild
        from scoring.ingestion.models import Event
        from scoring.ledger.models import ScoreChange

        index_rebuild()
        port = free_port()
        procs.append(spawn([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--no-access-log", "--log-level", "warning", "--lifespan", "off"],
                           env, run_dir / "asgi.log", services_root))
        worker = spawn([sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=2",
                        "--loglevel=WARNING", "--without-mingle", "--without-gossip", "-Q", "celery",
                        "--hostname", f"chaos-{uuid.uuid4().hex[:6]}@%h"],
                       {**env, "PGAPPNAME": WORKER_APP}, run_dir / "worker.log", services_root)
        procs.append(worker)
        procs.append(spawn([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
                            "--schedule", str(run_dir / "beat-schedule")], env, run_dir / "beat.log", services_root))
        wait_for_port(port, 60)
        time.sleep(5)  # the worker's children and beat up

        if services_root != ROOT:
            print(f"services run from {services_root}")
        print(f"Credo fault injection: {args.members} members (hub with {args.hub_friends} friends), "
              f"{args.rate:g} events/s for {args.seconds:g} s through the signed API; db {args.db}, "
              f"own Redis on :{args.redis_port}; logs in {run_dir}", flush=True)
        partner = Partner(port, issued.key_id, issued.secret)
        sent: set[str] = set()
        users = list(User.objects.filter(username__in=names).order_by("pk"))
        faults = Faults(PG, args.db, worker, redis, rng)
        load_thread = threading.Thread(target=load, args=(partner, names, args.seconds, args.rate, args.senders,
                                                          args.seed, sent))
        load_thread.start()
        run_faults(faults, args.seconds, users[0], users[1:args.hub_friends + 40])
        load_thread.join()
        last = max(faults.last_fault_end, time.monotonic())
        print("load and faults over; waiting for the system to heal by itself (no rebuild)", flush=True)
        healed, figures, trail = heal(args.heal_timeout, args.poll, last)

        accepted = partner.accepted
        stored = dict(Event.objects.filter(partner__slug="chaos", external_id__in=list(sent))
                      .values_list("external_id", "status"))
        applied = Counter(ScoreChange.objects.filter(cause="event", event__external_id__in=list(sent))
                          .values_list("event__external_id", flat=True))
        fives = sum(n for status, n in partner.statuses.items() if status.startswith("5"))
        row = {
            "sent": len(sent), "accepted": len(accepted),
            "scored once": sum(1 for ext in accepted if stored.get(ext) == "scored" and applied[ext] == 1),
            "lost": sum(1 for ext in accepted if stored.get(ext) != "scored"),
            "duplicated": sum(n - 1 for n in applied.values() if n > 1),
            "5xx": fives,
            "max displayed-point gap": round(figures.get("points_gap", float("nan")), 4),
            "board differences": figures.get("board_differences"),
            "time to heal": "not healed" if healed is None else f"{healed:.0f} s",
        }
        print()
        print("| " + " | ".join(row) + " |")
        print("|" + "|".join("---" for _ in row) + "|")
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
        print()
        print("responses: " + ", ".join(f"{status}: {n}" for status, n in sorted(partner.statuses.items())))
        print("deliveries: " + ", ".join(f"{kind}: {n}" for kind, n in sorted(partner.deliveries.items())))
        print("faults: " + ", ".join(f"{kind}: {n}" for kind, n in faults.counts.items()))
        logs = {name: (run_dir / f"{name}.log").read_text(errors="replace") for name in ("asgi", "worker", "beat")}
        print("logs: " + "; ".join(
            f"{name}: {text.count('deadlock detected')} deadlock(s), {text.count('retrying ')} transient "
            f"failure(s) retried, {text.count('Traceback')} traceback(s)" for name, text in logs.items()))
        print(f"final check: {figures}")
        result = {"row": row, "responses": dict(partner.statuses), "deliveries": dict(partner.deliveries),
                  "faults": dict(faults.counts), "timeline": faults.log, "heal_trail": trail, "args": vars(args)}
        (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
        print(f"details: {run_dir / 'result.json'}")
        ok = healed is not None and row["lost"] == 0 and row["duplicated"] == 0
        sys.exit(0 if ok else 1)
    finally:
        stop_all(procs)
        redis.stop()


if __name__ == "__main__":
    main()
