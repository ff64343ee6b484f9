"""How fast ``/health/ready`` follows Redis: stopped, back (empty), hung and resumed.

Services mode as ``make services`` runs it — uvicorn with 2 workers (config.settings.services)
and a Celery worker — on its own PostgreSQL database (``--db``, recreated) and its OWN Redis
(``redis-server`` on ``--redis-port``, 6391 by default, no persistence: the shared one is never
touched). A prober asks ``/health/ready`` every 0.1 s and prints how long each change took to
show: Redis stopped → first 503; started again, empty → 200 (the index rebuilt by the worker);
hung (SIGSTOP) → 503 (each check's time limit); resumed → 200. Also how long one probe takes
while Redis hangs.

Run: .venv/bin/python bench/bench_health.py [--redis-port 6391] [--db bench_health]
Loopback only; every process is stopped at the end. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._services import PG, ROOT, free_port, process, recreate_database, stop


def probe(url: str) -> tuple[int, float]:
    """(status, seconds) of one probe; 0 when nothing answered within 10 s."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


def until(url: str, status: int, limit: float = 120.0) -> float:
    """Seconds until a probe answers ``status`` (probing every 0.1 s)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if probe(url)[0] == status:
            return time.monotonic() - started
        time.sleep(0.1)
    raise SystemExit(f"/health/ready did not answer {status} within {limit:.0f} s")


def redis_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--db", default="bench_health")
    args = parser.parse_args()
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    metrics_dir = tempfile.mkdtemp(prefix="credo-health-metrics-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.services", "SECRET_KEY": "bench-" + "k" * 50,
           "DATABASE_URL": f"{PG}/{args.db}", "REDIS_URL": redis_url, "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
           "LOG_LEVEL": "ERROR", "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    recreate_database(args.db)
    port = free_port()
    url = f"http://127.0.0.1:{port}/health/ready"
    server = redis_server(args.redis_port)
    web = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
           "--workers", "2", "--lifespan", "off", "--no-access-log"]
    worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--without-mingle",
              "--without-gossip", "--loglevel", "ERROR"]
    try:
        with process(web, env, wait_port=port), process(worker, env):
            print(f"services mode (uvicorn 2 workers + 1 Celery worker), own Redis on :{args.redis_port}; "
                  f"HEALTH_CHECK_TIMEOUT_SECONDS={os.environ.get('HEALTH_CHECK_TIMEOUT_SECONDS', '2')}")
            print(f"  started: 200 after {until(url, 200):.2f} s (the index built by the worker)")
            stop([server])
            print(f"  Redis stopped: 503 after {until(url, 503):.2f} s")
            server = redis_server(args.redis_port)
            print(f"  Redis started again, empty: 200 after {until(url, 200):.2f} s")
            os.kill(server.pid, signal.SIGSTOP)
            try:
                print(f"  Redis hung (SIGSTOP): 503 after {until(url, 503):.2f} s; "
                      f"one probe then takes {probe(url)[1]:.2f} s")
            finally:
                os.kill(server.pid, signal.SIGCONT)
            print(f"  Redis resumed: 200 after {until(url, 200):.2f} s")
    finally:
        stop([server])
        shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
