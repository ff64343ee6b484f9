"""Live leaderboard load benchmark (DESIGN.md §5, §11): WebSocket clients on loopback.

    .venv/bin/python bench/bench_live.py                       # 1,000 clients, both layers, 1 and 2 daphnes
    .venv/bin/python bench/bench_live.py --clients 200 --duration 10 --layers pubsub --procs 1
    .venv/bin/python bench/bench_live.py --layers pubsub --procs 2 --no-batch   # one frame per row, as before
    .venv/bin/python bench/bench_live.py --layers pubsub --procs 2 --server uvicorn

1. Members and friendships: a BFS sample of ``--clients`` nodes of the real Facebook graph
   (``/work/shared/data/facebook_combined.txt``, SNAP ego-Facebook) with every friendship among
   them; one knox token each, scores in [350, 950], the Redis index rebuilt.
2. Per (layer, processes): a parent binds ONE listening socket and starts ``daphne --fd`` that
   many times on it (the kernel spreads the connections; ``--server uvicorn``: uvicorn with
   uvloop, as the README deploys it). ``CHANNEL_LAYER=core|pubsub`` picks the layer
   (config/settings/base.py). Each member trades their token for a ticket
   (``POST /api/v1/ws-ticket/``, in-process through the real view) and connects with
   ``?ticket=…&board=friends&batch=1`` from this process (the ``websockets`` client library):
   one ``rank.batch`` frame per coalescing tick; ``--no-batch`` drops ``batch=1`` and measures
   the one-``rank.changed``-frame-per-row protocol.
3. A driver process (``--driver``) moves random members' scores at a fixed rate, open loop,
   through the publish path the scoring pipeline ends in: the member's row (the truth), the
   index pipeline (``leaderboards.boards.index.apply``) and ONE ``member.changed`` (the same message
   ``leaderboards.live.broadcast.member_changed`` builds), and logs when each change happened.
4. Latency: change → a friend's socket receiving the delta (a ``rank.changed``, alone or inside
   a ``rank.batch``) with that member's new score (wall clock, same machine). Sequence gaps are
   counted per socket from the deltas' seqs (each answered with a ``resync``: a snapshot repairs
   it); ``--drop-every N`` makes clients discard every Nth delta on purpose (inside a batch, the
   next delta of the same frame then shows the gap), to show that the resync repairs it.
   Reported per rate: frames/s (every frame the servers sent: batches, rank.changed, me.changed)
   and deltas/s, in all and per server process, and server CPU per frame and per delta.

Bounded: ``--duration`` seconds per rate, every process stopped at the end, loopback only.
Env: BENCH_PG (postgres://postgres@127.0.0.1:5432; database ``lbperf_live`` is recreated),
BENCH_REDIS_URL (redis://127.0.0.1:6379/11: FLUSHED at the start — never point it at db 0).
Prints figures; asserts nothing about time (STYLE §14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _services import PG, ROOT, asgi_command, nodelay_for_accepted, percentile, stop

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DB = os.environ.get("BENCH_DB", "lbperf_live")
GRAPH = Path(os.environ.get("BENCH_GRAPH", "/work/shared/data/facebook_combined.txt"))
PREFIX = "bench-live"
WAVE = 50  # clients connecting at once
LOGS = os.environ.get("BENCH_LOGS") or tempfile.gettempdir()


def env(layer: str = "core") -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"{PG}/{DB}", "REDIS_URL": REDIS, "LEADERBOARDS_REDIS_PREFIX": PREFIX,
            "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false", "LOG_LEVEL": "ERROR",
            "THROTTLE_USER": "100000000/minute", "THROTTLE_ANON": "100000000/minute", "PYTHONPATH": str(ROOT),
            "CHANNEL_LAYER": layer}


def setup_django(layer: str = "core") -> None:
    os.environ.update(env(layer))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the graph and the members ---------------------------------------------------------------------


def bfs_sample(n: int) -> tuple[list[int], list[tuple[int, int]]]:
    """``n`` nodes reached breadth-first from node 0, and the edges among them."""
    adjacency: dict[int, list[int]] = defaultdict(list)
    for line in GRAPH.read_text().split("\n"):
        if line.strip():
            a, b = map(int, line.split())
            adjacency[a].append(b)
            adjacency[b].append(a)
    seen = {0}
    order = [0]
    queue = deque([0])
    while queue and len(order) < n:
        for nxt in sorted(adjacency[queue.popleft()]):
            if nxt not in seen and len(order) < n:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    edges = sorted({(min(a, b), max(a, b)) for a in order for b in adjacency[a] if b in seen})
    return order, edges


def populate(n: int) -> tuple[list[int], dict[int, set[int]], list[str]]:
    """Members (ids), their friends among them and one API token each."""
    from datetime import UTC, datetime, timedelta

    import psycopg
    import redis

    assert not REDIS.rstrip("/").endswith("/0"), "never flush Redis db 0"
    redis.Redis.from_url(REDIS).flushdb()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env(), check=True)
    setup_django()
    from knox.models import AuthToken

    from accounts.members.models import User
    from leaderboards.boards import services
    from scoring.model import band_for
    from social.graph.models import Friendship

    nodes, edges = bfs_sample(n)
    rng = random.Random(7)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    User.objects.bulk_create([
        User(username=f"fb{node:04d}", email=f"fb{node}@example.com", score=(s := rng.randint(350, 950)),
             score_band=band_for(s), score_reached_at=t0 + timedelta(seconds=i), on_global_board=True)
        for i, node in enumerate(nodes)], batch_size=1000)
    by_node = dict(User.objects.filter(username__startswith="fb").values_list("username", "pk"))
    ids = {node: by_node[f"fb{node:04d}"] for node in nodes}
    Friendship.objects.bulk_create([Friendship(member_a_id=min(ids[a], ids[b]), member_b_id=max(ids[a], ids[b]),
                                               accepted_at=t0) for a, b in edges], batch_size=2000)
    services.index_rebuild()
    friends: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        friends[ids[a]].add(ids[b])
        friends[ids[b]].add(ids[a])
    members = [ids[node] for node in nodes]
    tokens = [AuthToken.objects.create(User.objects.get(pk=m))[1] for m in members]
    degrees = sorted(len(friends[m]) for m in members)
    print(f"graph: BFS sample of {len(nodes)} nodes of {GRAPH.name}, {len(edges):,} friendships among them; "
          f"friends per member median {degrees[len(degrees) // 2]}, max {degrees[-1]}")
    return members, friends, tokens


# --- the driver (its own process) ------------------------------------------------------------------


def driver(rate: float, duration: float, layer: str, seed: int) -> None:
    """Move random members' scores at ``rate`` per second for ``duration`` s; print the log."""
    setup_django(layer)
    from channels.layers import get_channel_layer
    from django.utils import timezone

    from accounts.members.models import User
    from leaderboards.boards import index
    from leaderboards.boards.ranking import reached_us
    from leaderboards.live import broadcast
    from leaderboards.live.protocol import InternalType
    from scoring.model import band_for

    members: dict[int, tuple[str, int]] = {
        pk: (name, score) for pk, name, score in
        User.objects.filter(username__startswith="fb", score__isnull=False).values_list("pk", "username", "score")
        if score is not None}
    ids = sorted(members)
    rng = random.Random(seed)
    layer_ = get_channel_layer()
    log: list[tuple[str, int, float]] = []

    # One event loop for the layer's connections; the ORM runs between its turns (no loop running).
    loop = asyncio.new_event_loop()
    start = time.monotonic()
    for i in range(int(rate * duration)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        member_id = rng.choice(ids)
        username, old = members[member_id]
        new = min(950, max(350, old + rng.choice([-1, 1]) * rng.randint(1, 25)))
        if new == old:
            new = old + 1 if old < 950 else old - 1
        now = timezone.now()
        at = time.time()
        band = band_for(new)
        User.objects.filter(pk=member_id).update(score=new, score_band=band, score_reached_at=now)
        index.apply([index.MemberState(member_id, new, reached_us(now), True, True, username=username, band=band)],
                    season_id=None)
        members[member_id] = (username, new)
        loop.run_until_complete(layer_.group_send(broadcast.member_group(member_id), {
            "type": InternalType.MEMBER_CHANGED, "member_id": member_id, "username": username,
            "old_score": old, "new_score": new, "band": band, "reached": reached_us(now), "listed": True,
            "on_global": True, "weekly_points": None, "cause": "event"}))
        log.append((username, new, at))
    lag = time.monotonic() - start - duration
    time.sleep(max(0.0, -lag))  # a phase lasts ``duration`` whatever the rate (rate 0: the idle cost)
    print(json.dumps({"log": log, "late_s": round(max(0.0, lag), 3)}))


# --- the clients -----------------------------------------------------------------------------------


@dataclass
class Stats:
    arrivals: list[tuple[str, int, float]] = field(default_factory=list)
    frames: int = 0  # every frame received
    deltas: int = 0  # rank.changed rows, alone or in a rank.batch (those dropped on purpose excluded)
    snapshots: int = 0
    gaps: int = 0
    repaired: int = 0
    dropped_on_purpose: int = 0
    closed: int = 0


async def client(url: str, stats: Stats, drop_every: int, ready: asyncio.Event, counter: list[int],
                 total: int) -> None:
    import websockets

    try:
        async with websockets.connect(url, max_queue=None, ping_interval=None, open_timeout=120) as ws:
            last_seq = 0
            waiting_repair = False
            seen = 0
            async for raw in ws:
                at = time.time()
                stats.frames += 1
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "snapshot":
                    stats.snapshots += 1
                    if waiting_repair:
                        stats.repaired += 1
                        waiting_repair = False
                    if last_seq == 0:
                        counter[0] += 1
                        if counter[0] + stats.closed >= total:
                            ready.set()
                    last_seq = msg["seq"]
                elif kind in ("rank.changed", "rank.batch"):
                    for delta in msg["deltas"] if kind == "rank.batch" else [msg]:
                        seen += 1
                        if drop_every and seen % drop_every == 0:
                            stats.dropped_on_purpose += 1
                            continue  # as if it were lost: the next one shows a gap
                        stats.deltas += 1
                        if delta["seq"] != last_seq + 1 and not waiting_repair:
                            stats.gaps += 1
                            waiting_repair = True
                            await ws.send(json.dumps({"type": "resync", "board": "friends"}))
                        last_seq = delta["seq"]
                        if (not delta["is_me"] and delta["new_score"] is not None
                                and delta["old_score"] != delta["new_score"]):
                            stats.arrivals.append((delta["username"], delta["new_score"], at))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        stats.closed += 1
        if stats.closed <= 3:
            print(f"  client closed: {exc!r}")
        if counter[0] + stats.closed >= total:
            ready.set()


def tickets(tokens: list[str]) -> list[str]:
    from rest_framework.test import APIClient

    api = APIClient()
    out = []
    for token in tokens:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = api.post("/api/v1/ws-ticket/")
        assert response.status_code == 201, response.content
        out.append(response.json()["ticket"])
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, all cores (Linux /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(changes: list[tuple[str, int, float]], arrivals: list[tuple[str, int, float]]) -> list[float]:
    """Each arrival against the latest change of that member to that score before it (ms)."""
    by_member: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for username, score, at in changes:
        by_member[username].append((at, score))
    out = []
    for username, score, at in arrivals:
        best = None
        for when, value in reversed(by_member.get(username, ())):
            if when <= at and value == score:
                best = when
                break
        if best is not None:
            out.append((at - best) * 1000)
    return out


def server_command(server: str, fd: int) -> list[str]:
    """One ASGI server process serving config.asgi on the listening socket ``fd``."""
    if server == "daphne":
        return [str(Path(sys.executable).parent / "daphne"), "--fd", str(fd), "-v", "0",
                "--websocket_connect_timeout", "30", "config.asgi:application"]
    return asgi_command(server, fd)  # uvicorn, as bench/_services.py runs it for the other benchmarks


async def scenario(layer: str, procs: int, members: list[int], tokens: list[str], rates: list[float],
                   duration: float, drop_every: int, *, batch: bool = True, server: str = "daphne") -> list[dict]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    nodelay_for_accepted(listener)  # uvicorn --fd does not set TCP_NODELAY itself (daphne does)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    command = server_command(server, listener.fileno())
    mode = "batch" if batch else "nobatch"
    servers = [subprocess.Popen(command, cwd=ROOT, env=env(layer), pass_fds=[listener.fileno()],
                                stdout=subprocess.DEVNULL,
                                stderr=open(f"{LOGS}/{server}-{layer}-{procs}-{mode}-{i}.log", "w"))  # noqa: SIM115
               for i in range(procs)]
    tasks: list[asyncio.Task] = []
    results = []
    try:
        await asyncio.sleep(3)  # daphne imports Django
        stats = Stats()
        ready = asyncio.Event()
        counter = [0]
        started = time.monotonic()
        # Connect in waves, each waiting for the previous one's snapshots: a server's handshakes
        # and snapshots run their database work on one thread (thread-sensitive sync_to_async),
        # and a thousand at once outlast daphne's handshake timeout.
        for base in range(0, len(tokens), WAVE):
            wave = await asyncio.to_thread(tickets, tokens[base:base + WAVE])
            for ticket in wave:
                url = f"ws://127.0.0.1:{port}/ws/leaderboards/?ticket={ticket}&board=friends"
                if batch:
                    url += "&batch=1"
                tasks.append(asyncio.create_task(client(url, stats, drop_every, ready, counter, len(tokens))))
            deadline = time.monotonic() + 60
            while counter[0] + stats.closed < base + len(wave) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(ready.wait(), timeout=180)
        except TimeoutError:
            print(f"  only {counter[0]} of {len(tokens)} clients got their snapshot")
        print(f"{layer} layer, {procs} {server} process(es), {'batches' if batch else 'one frame per delta'}: "
              f"{counter[0]} sockets connected and subscribed in {time.monotonic() - started:.1f} s "
              f"({stats.closed} failed)")
        for rate in rates:
            await asyncio.sleep(2)
            stats.arrivals.clear()
            base_frames, base_deltas, base_gaps, base_rep = stats.frames, stats.deltas, stats.gaps, stats.repaired
            cpu0 = [cpu_seconds(p.pid) for p in servers]
            me0 = resource.getrusage(resource.RUSAGE_SELF)
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            busy0 = machine_busy()
            t0 = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--driver", "--rate", str(rate), "--duration", str(duration),
                "--layers", layer, cwd=ROOT, env=env(layer), stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            await asyncio.sleep(2)  # drain
            elapsed = time.monotonic() - t0
            data = json.loads(out.decode().strip().splitlines()[-1])
            changes = [tuple(c) for c in data["log"]]
            lat = latencies(changes, stats.arrivals)  # type: ignore[arg-type]
            cpu = [cpu_seconds(p.pid) - c for p, c in zip(servers, cpu0, strict=True)]
            me1 = resource.getrusage(resource.RUSAGE_SELF)
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the driver (waited for above)
            busy1 = machine_busy()
            frames, deltas = stats.frames - base_frames, stats.deltas - base_deltas
            row = {
                "layer": layer, "procs": procs, "server": server, "batch": batch, "rate": rate,
                "changes": len(changes), "late_s": data["late_s"],
                "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                "matched": len(lat), "frames": frames, "deltas": deltas,
                "frames_per_s": frames / elapsed, "deltas_per_s": deltas / elapsed,
                "frames_per_proc": frames / elapsed / procs, "deltas_per_proc": deltas / elapsed / procs,
                "server_cpu": sum(cpu) / elapsed,
                "cpu_ms_per_frame": 1000 * sum(cpu) / frames if frames else float("nan"),
                "cpu_ms_per_delta": 1000 * sum(cpu) / deltas if deltas else float("nan"),
                "gen_cpu": (me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime) / elapsed,
                "driver_cpu": (kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime) / elapsed,
                # Everything on the machine (other people's jobs too): 100% = every core busy.
                "machine_busy": 100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
                "gaps": stats.gaps - base_gaps, "repaired": stats.repaired - base_rep, "closed": stats.closed,
                "load": os.getloadavg()[0],
            }
            results.append(row)
            print(f"  {rate:5.0f} changes/s: {len(changes)} changes, {len(lat):,} friend deliveries matched; "
                  f"latency p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms, p99 {row['p99']:.0f} ms; "
                  f"{frames:,} frames ({row['frames_per_s']:,.0f}/s, {row['frames_per_proc']:,.0f}/s per process) "
                  f"carrying {deltas:,} deltas ({row['deltas_per_s']:,.0f}/s, {row['deltas_per_proc']:,.0f}/s per "
                  f"process); {server} CPU {row['server_cpu']:.2f} cores ({row['cpu_ms_per_frame']:.2f} ms/frame, "
                  f"{row['cpu_ms_per_delta']:.3f} ms/delta), generator {row['gen_cpu']:.2f} cores, driver "
                  f"{row['driver_cpu']:.2f} cores, machine {row['machine_busy']:.0f}% busy; gaps "
                  f"{row['gaps']} (resync repaired {row['repaired']}); driver late {data['late_s']} s; "
                  f"load {row['load']:.2f}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stop(servers)
        listener.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rates", default="50,200")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate")
    parser.add_argument("--layers", default="core,pubsub")
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--drop-every", type=int, default=0,
                        help="each client discards every Nth delta (to show resync repairing gaps)")
    parser.add_argument("--no-batch", action="store_true",
                        help="clients do not ask for rank.batch frames: one rank.changed frame per delta")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne", help="the ASGI server")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=50.0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        driver(args.rate, args.duration, args.layers, args.seed)
        return
    members, _friends, tokens = populate(args.clients)
    rates = [float(r) for r in args.rates.split(",")]
    table = []
    for layer in args.layers.split(","):
        for procs in (int(p) for p in args.procs.split(",")):
            table += asyncio.run(scenario(layer, procs, members, tokens, rates, args.duration, args.drop_every,
                                          batch=not args.no_batch, server=args.server))
    print("\n| layer | server procs | frames | changes/s | p50 ms | p95 ms | p99 ms | frames/s | deltas/s | "
          "frames/s per proc | deltas/s per proc | server cores | CPU ms/frame | CPU ms/delta | driver cores | "
          "machine busy | gaps (repaired) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['layer']} | {r['procs']} {r['server']} | {'batch' if r['batch'] else 'per delta'} | "
              f"{r['rate']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {r['frames_per_s']:,.0f} | "
              f"{r['deltas_per_s']:,.0f} | {r['frames_per_proc']:,.0f} | {r['deltas_per_proc']:,.0f} | "
              f"{r['server_cpu']:.2f} | {r['cpu_ms_per_frame']:.2f} | {r['cpu_ms_per_delta']:.3f} | "
              f"{r['driver_cpu']:.2f} | {r['machine_busy']:.0f}% | {r['gaps']} ({r['repaired']}) | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
