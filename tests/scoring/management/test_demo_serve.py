"""``make run``'s supervisor (``manage.py demo_serve``): a signal stops the server and the
simulator with it, and the supervisor exits, however it is stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.processes import free_port, processes_marked

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 0)])
def test_a_signal_stops_the_server_and_the_simulator(tmp_path: Path, signum: int, code: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    run_id = uuid.uuid4().hex
    marker = f"CREDO_DEMO_SERVE_TEST={run_id}"  # in the environment the server and the simulator inherit
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}", "DJANGO_SETTINGS_MODULE":
                "config.settings.local", "DEBUG": "true", "CI": "", "CREDO_EXPORTS_ROOT": str(tmp_path / "exports"),
                "CREDO_DEMO_SERVE_TEST": run_id})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    address = f"127.0.0.1:{free_port()}"
    supervisor = subprocess.Popen([*manage, "demo_serve", address, "--members", "20", "--noreload", "-v", "0"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:  # seeding, then the server answers
            assert supervisor.poll() is None, "demo_serve stopped on its own"
            try:
                urllib.request.urlopen(f"http://{address}/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the demo server never answered"
                time.sleep(0.2)
        assert len(processes_marked(marker)) >= 3  # the supervisor, the server and the simulator
        supervisor.send_signal(signum)
        assert supervisor.wait(timeout=60) == code
        deadline = time.monotonic() + 10
        while processes_marked(marker):
            assert time.monotonic() < deadline, f"left running: {processes_marked(marker)}"
            time.sleep(0.1)
    finally:
        for pid in [supervisor.pid, *processes_marked(marker)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
