"""The live leaderboard in a real browser: Debian's Chromium driven by Playwright.

Two friends; a partner event for bob moves alice's open leaderboard within 5 s, no reload.
The app runs as it does on a laptop (embedded mode) under daphne, in a subprocess with its own
SQLite file: an event reaches the consumers through the in-process channel layer, exactly the
path a member's browser sees. In CI (CI=true) a missing Chromium or Playwright FAILS the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scoring.ingestion.partners import sign
from tests.processes import free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Where the 375 px screenshot goes (outside the repository unless told otherwise).
SCREENSHOT = Path(os.environ.get("LEADERBOARD_SCREENSHOT", "/tmp/credo-leaderboard-375.png"))  # noqa: S108
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required for the browser test (CI installs it)", pytrace=False)
    pytest.skip(f"{what} is not installed")


@contextlib.contextmanager
def daphne_serving(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """daphne serving config.asgi with ``env`` on a free loopback port, once it answers; yields
    (url, process) and stops it afterwards."""
    daphne = str(Path(sys.executable).parent / "daphne")
    port = free_port()
    server = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/", timeout=1)  # noqa: S310 — our own loopback server
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(server.stderr.read().decode() if server.stderr else "daphne died") from None
                time.sleep(0.1)
        yield url, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def app_server(tmp_path):  # type: ignore[no-untyped-def]
    """daphne serving config.asgi in embedded mode on a fresh SQLite file; yields (url, world)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}", "DJANGO_SETTINGS_MODULE":
                "config.settings.local", "DEBUG": "true", "LOG_LEVEL": "WARNING", "CI": ""})
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    setup = (Path(__file__).parents[1] / "browser_setup.py").read_text()
    out = subprocess.run([*manage, "shell", "-c", setup], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    world = json.loads(out.strip().splitlines()[-1])
    with daphne_serving(env) as (url, _):
        yield url, world


def post_event(url: str, world: dict, *, member: str = "bob", day: str = "2026-01-05",
               paid: str = "2026-01-04", occurred_at: str = "2026-01-05T10:00:00Z") -> int:
    """A signed on-time card repayment for ``member`` through the partner API; the HTTP status."""
    body = json.dumps({
        "member": member, "kind": "card_repayment", "amount": "250.00", "currency": "EUR",
        "occurred_at": occurred_at, "due_date": day, "paid_date": paid,
        "external_id": f"e-{uuid.uuid4().hex[:8]}",
    }).encode()
    ts = int(time.time())
    request = urllib.request.Request(url + "/api/v1/events/", data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "X-Credo-Key": world["key_id"], "X-Credo-Timestamp": str(ts),
        "X-Credo-Signature": sign(world["secret"], ts, body), "Idempotency-Key": uuid.uuid4().hex,
    })
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 — loopback
        return int(response.status)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (missing: skipped, or failed under CI)."""
    if not Path(CHROMIUM).exists():
        _missing("Chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_friends_event_moves_my_open_leaderboard_without_a_reload(app_server):
    url, world = app_server
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        context.add_cookies([{"name": "sessionid", "value": world["session"], "url": url}])
        page = context.new_page()
        page.goto(url + "/leaderboard/")
        page.wait_for_selector('.lb-status[data-state="live"]', timeout=10_000)
        page.wait_for_selector("#leaderboard[data-seq='1']", timeout=10_000)
        names = page.locator(".lb-row .lb-name").all_inner_texts()
        assert [n.split()[0] for n in names] == ["alice", "bob"]
        ranks = page.locator(".lb-row .lb-rank").all_inner_texts()
        assert ranks == ["1", "1"]  # tied at the starting score; alice got there first

        assert post_event(url, world) == 201
        # bob passes alice: his row moves to the top, alice is told, all without a reload.
        page.wait_for_function(
            "() => document.querySelector('.lb-row .lb-name').textContent.startsWith('bob')", timeout=5_000)
        page.wait_for_selector(".lb-toast:not([hidden])", timeout=5_000)
        assert "You were passed by bob" in page.locator(".lb-toast").inner_text()
        assert page.locator(".lb-row.me .lb-rank").inner_text() == "2"
        page.wait_for_timeout(700)  # let the row animation settle for the screenshot
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
