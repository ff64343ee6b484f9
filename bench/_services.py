"""Helpers for benchmarks that run Credo in services mode on this machine (loopback only)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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
def process(args: list[str], env: dict[str, str], wait_port: int | None = None):
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if wait_port:
            wait_for_port(wait_port)
        yield proc
    finally:
        stop([proc])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextmanager
def asgi_servers(env: dict[str, str], processes: int = 1):
    """``processes`` daphne servers accepting on ONE listening socket (the kernel spreads the
    connections), the way several ASGI processes sit behind one address. Yields the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "--fd", str(fd), "config.asgi:application"],
            cwd=ROOT, env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    try:
        wait_for_port(port)
        time.sleep(1.0)  # let every process finish importing Django
        yield port
    finally:
        stop(procs)
        listener.close()
