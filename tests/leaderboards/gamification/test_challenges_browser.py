"""A running challenge's standings update live in a real browser (Chromium via Playwright).

alice challenges bob from the page, bob accepts (his own browser context and session), then a
partner event for bob moves the standings on alice's open page: no reload.
Uses the embedded-mode server of ``tests/leaderboards/sockets/test_browser.py`` (daphne, its own SQLite file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leaderboards.sockets.test_browser import (  # noqa: F401 - app_server is a fixture
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    _missing,
    app_server,
    post_event,
)

pytestmark = pytest.mark.browser

BOB_SESSION = """
from django.test import Client
from accounts.members.models import User
client = Client()
client.force_login(User.objects.get(username="bob"))
print(client.cookies["sessionid"].value)
"""


def session_of_bob(tmp_path: Path) -> str:
    """bob's session in the server's database (the same file ``app_server`` set up)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}",
                "DJANGO_SETTINGS_MODULE": "config.settings.local", "LOG_LEVEL": "WARNING", "CI": ""})
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", BOB_SESSION], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def test_a_running_challenge_moves_on_my_open_page_without_a_reload(app_server, tmp_path):  # noqa: F811
    if not Path(CHROMIUM).exists():
        _missing("Chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (pip install playwright)")
    url, world = app_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            alice_ctx = browser.new_context(viewport={"width": 375, "height": 740})
            alice_ctx.add_cookies([{"name": "sessionid", "value": world["session"], "url": url}])
            alice = alice_ctx.new_page()
            alice.goto(url + "/challenges/")
            alice.check('input[name="opponents"][value="bob"]')
            alice.click("#new button[type=submit]")
            alice.wait_for_selector("#waiting", timeout=5_000)

            bob_ctx = browser.new_context(viewport={"width": 375, "height": 740})
            bob_ctx.add_cookies([{"name": "sessionid", "value": session_of_bob(tmp_path), "url": url}])
            bob = bob_ctx.new_page()
            bob.goto(url + "/challenges/")
            bob.click("#incoming button:has-text('Accept')")
            bob.wait_for_selector("#active [data-challenge]", timeout=5_000)

            alice.goto(url + "/challenges/")
            alice.wait_for_selector('.ch-status[data-state="live"]', timeout=10_000)
            points = alice.locator("#active .ch-row .ch-points").all_inner_texts()
            assert points == ["0", "0"]

            assert post_event(url, world) == 201
            alice.wait_for_function(
                "() => document.querySelector('#active .ch-row .ch-name').textContent.startsWith('bob')"
                " && document.querySelector('#active .ch-row .ch-points').textContent.startsWith('+')",
                timeout=5_000)
            assert alice.locator("#active .ch-row.me .ch-rank").inner_text() == "2"

            # The dashboard card shows the same standings, and the leaderboard page still works.
            alice.goto(url + "/dashboard/")
            assert alice.locator(".ch-card [data-challenge] .ch-row").count() == 2
            alice.goto(url + "/leaderboard/")
            alice.wait_for_selector('.lb-status[data-state="live"]', timeout=10_000)
            alice.wait_for_selector("#leaderboard[data-seq='1']", timeout=10_000)
        finally:
            browser.close()
