"""The dashboard's gamification moves live in a real browser (Chromium via Playwright).

alice and bob are friends in a running challenge; alice paid her card on time the last two
months; a perk waits one point above her score. Her dashboard is open; a partner sends this
month's on-time card repayment. Without a reload her score, progress to the next band, streak
(3 months), perks (the perk unlocked), badges (the on-time streak badge) and the challenge
standings move. Uses the embedded-mode server of ``tests/leaderboards/sockets/test_browser.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from tests.leaderboards.sockets.test_browser import (  # noqa: F401 - app_server is a fixture
    ROOT,
    app_server,
    chromium,
    post_event,
)

pytestmark = pytest.mark.browser
SCREENSHOT = Path(os.environ.get("DASHBOARD_SCREENSHOT", "/tmp/credo-dashboard-live-375.png"))  # noqa: S108

# Run in the server's database after browser_setup.py (alice, bob, friends; bob consented to acme).
SETUP = """
import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from django.utils import timezone
from accounts.members.models import User
from leaderboards.gamification import challenges
from leaderboards.gamification.models import Perk
from scoring.explain.whatif import what_if
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Partner
from scoring.ingestion.services import events_store

alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
acme = Partner.objects.get(slug="acme")
consent_grant(member=alice, partner=acme)
# Two months of on-time card repayments: one more this month makes a 3-month streak (a badge).
last_month = timezone.now().date().replace(day=1) - timedelta(days=10)
month_before = last_month.replace(day=1) - timedelta(days=10)
events_store(partner=acme, items=[
    {"member": "alice", "kind": "card_repayment", "amount": Decimal("250.00"), "currency": "EUR",
     "occurred_at": datetime.combine(day, time(12), tzinfo=UTC), "due_date": day, "paid_date": day,
     "external_id": f"history-{day}"} for day in (month_before, last_month)])
challenge = challenges.challenge_create(by=alice, opponents=[bob])
challenges.challenge_answer(challenge=challenge, member=bob, accept=True)
scenario = {"kind": "card_repayment", "amount": Decimal("250.00"), "days_late": 0, "missed": False,
            "partner_name": "Acme Bank"}
result = what_if(member=alice, scenario=scenario)
before, after = result["current"]["score"], result["simulated"]["score"]
assert after >= before + 2, (before, after)
Perk.objects.create(name="Browser lounge", slug="browser-lounge", description="A test perk.", min_score=before + 1)
print(json.dumps({"before": before, "after": after}))
"""


def _manage_shell(tmp_path: Path, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'browser.sqlite3'}",
                "DJANGO_SETTINGS_MODULE": "config.settings.local", "LOG_LEVEL": "WARNING", "CI": ""})
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def test_my_dashboard_moves_live_when_my_event_is_scored(app_server, tmp_path):  # noqa: F811
    url, world = app_server
    scores = json.loads(_manage_shell(tmp_path, SETUP))
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2)
        context.add_cookies([{"name": "sessionid", "value": world["session"], "url": url}])
        page = context.new_page()
        page.goto(url + "/dashboard/")
        page.wait_for_function("() => window.CredoLive && window.CredoLive.isOpen()", timeout=10_000)
        assert page.locator("#perks-card .gm-held").count() == 0
        assert "Browser lounge" in page.locator("#perks-card").inner_text()  # the next perk, 1 point away
        badges_before = page.locator("#badges-card .bdg-item").count()
        assert "On-time streak" not in page.locator("#badges-card").inner_text()
        assert page.locator("#challenges-card [data-challenge] .ch-row").count() == 2
        progress_before = page.locator("#progress-card").inner_text()
        assert "2 months" in page.locator("#streak-card").inner_text()

        today = timezone.now().date().isoformat()
        assert post_event(url, world, member="alice", day=today, paid=today,
                          occurred_at=timezone.now().isoformat()) == 201
        page.wait_for_function("() => Number(document.getElementById('live-cards').dataset.refreshed) > 0",
                               timeout=5_000)
        page.wait_for_function(
            "() => document.querySelectorAll('#perks-card .gm-held').length === 1"
            f" && document.querySelectorAll('#badges-card .bdg-item').length > {badges_before}", timeout=5_000)
        assert "Browser lounge" in page.locator("#perks-card .gm-held").inner_text()
        assert "On-time streak" in page.locator("#badges-card").inner_text()
        assert "3 months" in page.locator("#streak-card").inner_text()
        assert page.locator("#progress-card").inner_text() != progress_before
        assert str(scores["after"]) in page.locator(".score-panel").inner_text()
        mine = page.locator("#challenges-card [data-challenge] .ch-row.me .ch-points").inner_text()
        assert mine == f"+{scores['after'] - scores['before']}"
        page.wait_for_timeout(300)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
