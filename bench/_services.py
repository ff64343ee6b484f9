"""Helpers for benchmarks that run Credo in services mode on this machine (loopback only)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def services_env(db_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{db_name}",
        "REDIS_URL": REDIS,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "1000000/minute",
        "THROTTLE_ANON": "1000000/minute",
        "PYTHONPATH": str(ROOT),
    }


def recreate_database(db_name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env=services_env(db_name), check=True)


def setup_django(db_name: str) -> None:
    os.environ.update(services_env(db_name))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:port (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate, wait, kill what does not stop."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def process(args: list[str], env: dict[str, str], wait_port: int | None = None, log: str | None = None):
    """Run ``args`` until the block ends; its output goes to ``log`` (appended) or nowhere."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if log else out)
    try:
        if wait_port:
            wait_for_port(wait_port)
        yield proc
    finally:
        stop([proc])
        if log:
            out.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


#: The ASGI server the benchmarks run (README "Services mode"): uvicorn with uvloop and
#: httptools costs less CPU per request than daphne here (docs/benchmarks.md, "Ingestion and
#: scoring"). BENCH_ASGI_SERVER=daphne measures daphne instead.
ASGI_SERVER = os.environ.get("BENCH_ASGI_SERVER", "uvicorn")


def asgi_command(server: str, fd: int) -> list[str]:
    """The command line of one ``server`` process serving config.asgi on listening socket ``fd``."""
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "--fd", str(fd), "config.asgi:application"]
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "config.asgi:application", "--fd", str(fd), "--loop", "uvloop",
                "--http", "httptools", "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
    raise ValueError(f"unknown ASGI server {server!r}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU these processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a Celery worker's pool children and embedded beat), Linux /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (Linux /proc/stat):
    what every process used, ours and anybody else's."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def loadavg() -> str:
    """The 1-minute load average (other work on the machine skews every figure)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def started(pids: Callable[[], list[int]], *, at_least: int = 1, timeout: float = 60.0) -> None:
    """Wait until at least ``at_least`` processes (``pids()``, asked again each time) exist and
    have stopped using CPU (done importing Django, forking pool children): less than 0.05 s of
    CPU in half a second."""
    deadline = time.monotonic() + timeout
    used = cpu_seconds(pids())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = pids()
        now = cpu_seconds(current)
        if len(current) >= at_least and now - used < 0.05:
            return
        used = now


def nodelay_for_accepted(listener: socket.socket) -> None:
    """Turn Nagle's algorithm off for every connection ``listener`` accepts (Linux copies
    TCP_NODELAY from the listening socket to the accepted ones).

    A server given a listening socket by ``--fd`` cannot always tell it is TCP: uvicorn wraps
    the descriptor as AF_UNIX (``socket.fromfd(fd, AF_UNIX, …)``), so uvloop never sets
    TCP_NODELAY on its connections, as it does when uvicorn binds the port itself (``--port``,
    ``--workers``: the README's services mode). Its response is two writes (status line and
    headers, then the body); with Nagle on, the body waits for the client's delayed ACK of the
    first: ≈ 40 ms added to every request, a trivial 404 included (docs/benchmarks.md)."""
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextmanager
def asgi_servers(env: dict[str, str], processes: int = 1, server: str | None = None,
                 procs_out: list[subprocess.Popen] | None = None, spread: str = "socket"):
    """``processes`` ASGI servers (``server``: uvicorn or daphne; default ``ASGI_SERVER``).
    Yields the ports to send to; ``procs_out`` receives the processes.

    ``spread="socket"``: all accept on ONE listening socket (one port), the way several ASGI
    processes share an address on one host; the kernel hands each new connection to whichever
    process accepts first, so a few keep-alive clients connecting at once may all land on one.
    ``spread="ports"``: one listening socket (port) per process, and the clients spread their
    connections over them evenly, as a load balancer in front of the processes would."""
    listeners = []
    for _ in range(processes if spread == "ports" else 1):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        nodelay_for_accepted(listener)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        listeners.append(listener)
    ports = [listener.getsockname()[1] for listener in listeners]
    fds = [listeners[i % len(listeners)].fileno() for i in range(processes)]
    procs = [
        subprocess.Popen(
            asgi_command(server or ASGI_SERVER, fd),
            cwd=ROOT, env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for fd in fds
    ]
    if procs_out is not None:
        procs_out.extend(procs)
    try:
        for port in ports:
            wait_for_port(port)
        # The socket accepts (into its backlog) before any process is ready: wait until the
        # processes are done importing Django (their CPU use stops), so the first measured
        # requests do not queue behind start-up.
        started(lambda: [p.pid for p in procs])
        yield ports
    finally:
        stop(procs)
        for listener in listeners:
            listener.close()
