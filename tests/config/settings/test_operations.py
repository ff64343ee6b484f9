"""The health probes and /metrics under the settings ``make run`` (config.settings.local,
embedded) and ``make services`` (config.settings.services) use, not the suite's override.

Each case runs ``manage.py`` in a subprocess on a fresh SQLite file, as a laptop or the
services recipe gets them: a probe from a load balancer's address with a host not in
ALLOWED_HOSTS, and /metrics from loopback and from a stranger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, os
from django.test import Client
from django.conf import settings

PROBER = {"HTTP_HOST": os.environ["PROBE_HOST"], "REMOTE_ADDR": os.environ["PROBE_ADDR"]}

def ready():
    r = Client().get("/health/ready", **PROBER)
    return [r.status_code, json.loads(r.content)["checks"]]

out = {"debug": settings.DEBUG, "ready": ready()}
if settings.SERVICES_MODE:
    # No worker here: rebuild the index the probe asked for, as a worker would, and take the
    # queued copy away so no other worker meets it.
    from config.celery import app
    from leaderboards.boards import index, services
    app.control.purge()
    services.index_rebuild()
    index.unlock_rebuild()
    out["ready_after_rebuild"] = ready()
live = Client().get("/health/live", **PROBER)
metrics = Client().get("/metrics", HTTP_HOST="127.0.0.1:8000", REMOTE_ADDR="127.0.0.1")
stranger = Client().get("/metrics", HTTP_HOST="10.0.3.7:8000", REMOTE_ADDR="10.0.3.1")
out.update(live=[live.status_code, json.loads(live.content)], metrics=metrics.status_code,
           accepted="credo_events_accepted_total" in metrics.content.decode(), stranger=stranger.status_code)
print(json.dumps(out))
"""

CHECKS = {"database": "ok", "migrations": "ok", "channel_layer": "ok", "broker": "ok"}


def _run(tmp_path: Path, settings_module: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {
        "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}", "DJANGO_SETTINGS_MODULE": settings_module,
                "LOG_LEVEL": "ERROR", **extra})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run([*manage, "shell", "-c", PROBE], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_make_runs_settings_serve_the_probes_and_metrics_to_this_machine(tmp_path: Path) -> None:
    # DEBUG is on (make run): the development server answers this machine only, /metrics included.
    assert _run(tmp_path, "config.settings.local", PROBE_HOST="127.0.0.1:8000", PROBE_ADDR="127.0.0.1") == {
        "debug": True, "ready": [200, CHECKS], "live": [200, {"status": "ok"}], "metrics": 200, "accepted": True,
        "stranger": 403}


@pytest.mark.services
def test_services_settings_answer_a_load_balancer_by_address(tmp_path: Path, redis_url: str) -> None:
    # redis_url (tests/conftest.py): fails in CI, skips elsewhere, when Redis is not there.
    result = _run(tmp_path, "config.settings.services", REDIS_URL=redis_url, SECRET_KEY="x" * 50,
                  ALLOWED_HOSTS="credo.example", LEADERBOARDS_REDIS_PREFIX=f"credo-test-lb-{uuid.uuid4().hex[:8]}",
                  PROBE_HOST="10.0.3.7:8000", PROBE_ADDR="10.0.3.1")
    services = {**CHECKS, "redis": "ok"}
    assert result == {
        "debug": False,
        "ready": [503, {**services, "board_index": "unavailable"}],  # no index yet: the probe asked for it
        "ready_after_rebuild": [200, {**services, "board_index": "ok"}],
        "live": [200, {"status": "ok"}], "metrics": 200, "accepted": True, "stranger": 403}
