"""Services mode in one command, end to end: ``make services`` itself (the Procfile's processes
run by honcho), against this machine's PostgreSQL and Redis (a database and a Redis db of their
own), then stopped with Ctrl-C.

Release step (database created, migrated, static files, a small demo world), then uvicorn with
2 workers, a Celery worker, beat and the simulator. The test waits for readiness, signs partner
events for alice and sees them scored through her API, her board move and her socket told so, the
business counters move on ``/metrics``, a real worker log the request id of the request that
enqueued its task, no secret in any line, and after SIGINT (Ctrl-C) no process left. Every wait
is on a condition with a generous deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, urlopen

import psycopg
import pytest
import redis
from psycopg import sql
from websockets.sync.client import connect as ws_connect

from accounts.members.demo import DEMO_PASSWORD
from scoring.demo.simulator import partners_load, post_signed
from tests.processes import free_port, processes_marked

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAKE = shutil.which("make") or "make"
pytestmark = pytest.mark.services

#: Generous: the machine may be busy with other work.
START_DEADLINE = 240.0
FLOW_DEADLINE = 60.0
STOP_DEADLINE = 30.0


def wait_for(what: str, check: Callable[[], Any], deadline: float, on_fail: Callable[[], str] = str) -> Any:
    """``check()``'s first truthy value, polled until ``deadline`` seconds have passed."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {deadline:.0f} s. {on_fail()}", pytrace=False)
        time.sleep(0.25)


def http(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method=method,  # noqa: S310 - our own local server
                      headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, _json(raw), dict(response.headers)
    except HTTPError as exc:
        return exc.code, _json(exc.read()), dict(exc.headers)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def _served(url: str) -> bool:
    try:
        with urlopen(url, timeout=3) as response:  # noqa: S310
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples over all its labels, in Prometheus' text format."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def scrape(base: str) -> str:
    status, text, _ = http("GET", base + "/metrics")
    assert status == 200, text
    return str(text)


@pytest.fixture
def services_env(redis_url: str, postgres: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A database and a Redis db of the run's own (dropped and flushed before and after)."""
    database_url = os.environ["DATABASE_URL"]
    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/') or 'credo'}_services_smoke"
    smoke_database_url = urlunsplit(parts._replace(path=f"/{name}"))
    redis_parts = urlsplit(redis_url)
    smoke_redis_url = urlunsplit(redis_parts._replace(path=f"/{(int(redis_parts.path.lstrip('/') or 0) + 1) % 16}"))
    admin_params = {"host": parts.hostname, "port": parts.port or 5432, "user": parts.username or None,
                    "password": parts.password or None, "dbname": "postgres", "autocommit": True}

    def clean() -> None:
        with psycopg.connect(**admin_params) as admin:  # type: ignore[arg-type]
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        redis.Redis.from_url(smoke_redis_url).flushdb()

    clean()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.services", "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": smoke_database_url, "REDIS_URL": smoke_redis_url, "LOG_FORMAT": "json",
        "PORT": str(free_port()), "DEMO_MEMBERS": "40", "DEMO_RATE": "1",
        "DEMO_PARTNERS_FILE": str(tmp_path / "partners.json"), "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
        "CREDO_EXPORTS_ROOT": str(tmp_path / "exports"), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # Not created here: make services makes it (a fresh clone has none).
        "CREDO_SERVICES_SMOKE": uuid.uuid4().hex, "SERVICES_METRICS_DIR": str(tmp_path / "metrics"),
    })
    try:
        yield env
    finally:
        clean()


def test_services_mode_serves_scores_moves_boards_and_stops_cleanly(services_env: dict[str, str], tmp_path: Path):
    env = services_env
    marker = f"CREDO_SERVICES_SMOKE={env['CREDO_SERVICES_SMOKE']}"
    base = f"http://127.0.0.1:{env['PORT']}"
    log_path = tmp_path / "services.log"
    with log_path.open("w") as log:  # as typed in a terminal: its own process group, as a shell gives it
        services = subprocess.Popen([MAKE, "-s", "services"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def output() -> str:
            return log_path.read_text(errors="replace")

        def tail() -> str:
            return "\n" + output()[-4000:]

        # What a load balancer waits for (config.operations.health): database, Redis, channel
        # layer, broker, migrations and the board index all there.
        def is_ready() -> bool:
            if services.poll() is not None:
                pytest.fail(f"make services stopped with status {services.returncode}.{tail()}", pytrace=False)
            return _served(base + "/health/ready")

        wait_for("ready", is_ready, START_DEADLINE, tail)  # the release step first, then the processes
        assert "Release done." in output()
        status, ready, _ = http("GET", base + "/health/ready")
        assert status == 200 and ready["status"] == "ok", ready
        _flows(base, env, output, tail)
    finally:
        stopped = _stop(services, marker)
    assert stopped == [], f"processes left after Ctrl-C: {stopped}"
    assert services.returncode is not None


def _flows(base: str, env: dict[str, str], output: Callable[[], str], tail: Callable[[], str]) -> None:
    creds, demo_member = partners_load(Path(env["DEMO_PARTNERS_FILE"]))
    assert demo_member == "alice"
    status, login, _ = http("POST", base + "/api/v1/auth/login/",
                            body={"username": "alice", "password": DEMO_PASSWORD})
    assert status == 200, login
    token = login["token"]
    auth = {"Authorization": f"Token {token}"}
    status, before, _ = http("GET", base + "/api/v1/me/score/", headers=auth)
    assert status == 200, before

    # Her socket, opened with a ticket as a phone does, subscribed to her friends board.
    status, ticket, _ = http("POST", base + "/api/v1/ws-ticket/", headers=auth)
    assert status == 201, ticket
    ws_url = base.replace("http://", "ws://") + f"/ws/leaderboards/?ticket={ticket['ticket']}"
    with ws_connect(ws_url, open_timeout=30) as live:
        live.send(json.dumps({"type": "subscribe", "board": "friends"}))
        snapshot = _receive_until(live, lambda m: m.get("type") == "snapshot", tail)
        [mine] = [row for row in snapshot["entries"] if row["is_me"]]

        # Her socket is counted open (a gauge summed over the web workers).
        wait_for("the open socket on /metrics", lambda: metric(scrape(base), "credo_live_sockets_open") >= 1,
                 FLOW_DEADLINE, lambda: scrape(base)[-3000:])
        counted = scrape(base)

        # Three missed card repayments, signed by her card issuer: her score must fall.
        today = datetime.now(UTC).replace(microsecond=0)
        external_ids = []
        for n in range(3):
            external_id = f"smoke-{uuid.uuid4().hex[:12]}"
            payload = {"member": "alice", "kind": "card_repayment", "currency": "EUR", "amount": "900.00",
                       "occurred_at": today.isoformat().replace("+00:00", "Z"), "missed": True,
                       "due_date": (today.date() - timedelta(days=120 + 30 * n)).isoformat(),
                       "external_id": external_id}
            status, body = post_signed(base, creds["card_repayment"], payload, idempotency_key=external_id)
            assert status == 201, body
            external_ids.append(external_id)

        # Scored, as her API shows.
        def scored() -> list[dict] | None:
            _, events, _ = http("GET", base + "/api/v1/me/events/", headers=auth)
            rows = events.get("results", events) if isinstance(events, dict) else events
            mine = [e for e in rows if e.get("external_id") in external_ids]
            return mine if len(mine) == 3 and all(e["status"] == "scored" for e in mine) else None

        wait_for("the signed events scored", scored, FLOW_DEADLINE, tail)
        status, after, _ = http("GET", base + "/api/v1/me/score/", headers=auth)
        assert status == 200 and after["score"] < before["score"], (before, after)

        # Her socket is told her fall on her friends board (the simulator may move her too: any
        # fall below where she stood before these events).
        def told(message: dict) -> bool:
            rows = message.get("deltas", [message]) if message.get("type") == "rank.batch" else [message]
            return any(r.get("type") == "rank.changed" and r.get("username") == "alice"
                       and r.get("new_score", before["score"]) < before["score"] for r in rows)

        _receive_until(live, told, tail)
    assert mine["username"] == "alice"

    # The counters moved, summed over every process (PROMETHEUS_MULTIPROC_DIR): at least our three
    # events accepted and scored (the simulator adds its own), frames sent to sockets.
    def moved() -> bool:
        now = scrape(base)
        return (metric(now, "credo_events_accepted_total") >= metric(counted, "credo_events_accepted_total") + 3
                and metric(now, "credo_events_scored_total") >= metric(counted, "credo_events_scored_total") + 3
                and metric(now, "credo_live_frames_sent_total") > metric(counted, "credo_live_frames_sent_total"))

    wait_for("the business counters moving on /metrics", moved, FLOW_DEADLINE, lambda: scrape(base)[-3000:])

    # The board moved: the REST board shows her as her score does, below where she stood.
    def board_moved() -> bool:
        _, board, _ = http("GET", base + "/api/v1/leaderboards/friends/?around=me", headers=auth)
        _, score, _ = http("GET", base + "/api/v1/me/score/", headers=auth)
        [row] = [r for r in board["entries"] if r["is_me"]]
        return bool(row["score"] == score["score"] < before["score"])

    wait_for("her friends board showing her new score", board_moved, FLOW_DEADLINE, tail)

    # A real worker logs the request id of the request that enqueued its task (after commit).
    request_id = f"smoke-export-{uuid.uuid4().hex[:12]}"
    status, export, headers = http("POST", base + "/api/v1/me/export/", headers={**auth, "X-Request-ID": request_id})
    assert status == 202 and headers.get("x-request-id") == request_id, (status, export, headers)

    def worker_line() -> dict | None:
        for line in output().splitlines():
            if request_id in line and "worker" in line.split("|", 1)[0]:
                record = json.loads(line.split("|", 1)[1])
                if record.get("event") == "task_succeeded":
                    return dict(record)
        return None

    record = wait_for("the export task's line in the worker", worker_line, FLOW_DEADLINE, tail)
    assert (record["request_id"], record["task"]) == (request_id, "accounts.privacy.tasks.data_export_build")
    # Beat's periodic tasks carry ids of their own.
    periodic = [json.loads(line.split("|", 1)[1]) for line in output().splitlines()
                if "score_dirty_members" in line and '"task_succeeded"' in line]
    assert periodic and all(p["request_id"] and p["request_id"] != request_id for p in periodic)

    # No secret in any line of any process. The release step's summary is for the person at the
    # terminal and names the demo world's login on purpose (as make run does): not a log line.
    text = "\n".join(line for line in output().splitlines() if "release.1 |" not in line)
    for value in [token, ticket["ticket"], *(c.secret for c in creds.values()), DEMO_PASSWORD, "sha256="]:
        assert value not in text


def _receive_until(live: Any, wanted: Callable[[dict], bool], tail: Callable[[], str]) -> dict:
    end = time.monotonic() + FLOW_DEADLINE
    seen = []
    while time.monotonic() < end:
        try:
            message = json.loads(live.recv(timeout=max(0.1, end - time.monotonic())))
        except TimeoutError:
            break
        if wanted(message):
            return dict(message)
        seen.append(message.get("type"))
    pytest.fail(f"the socket did not receive it within {FLOW_DEADLINE:.0f} s (got {seen[-20:]}).{tail()}",
                pytrace=False)


def _stop(services: subprocess.Popen, marker: str) -> list[int]:
    """Ctrl-C (SIGINT to the terminal's process group: make and honcho); every process of the run
    gone? Whatever is left is killed (never left behind by a failing test) and returned."""
    if services.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(services.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            services.wait(timeout=STOP_DEADLINE)
    end = time.monotonic() + STOP_DEADLINE
    while processes_marked(marker) and time.monotonic() < end:
        time.sleep(0.25)
    left = processes_marked(marker)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if services.poll() is None:
        services.kill()
        services.wait()
    return left
