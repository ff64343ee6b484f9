"""The settings ``make run`` and the README's services mode use (config.settings.local), not the
suite's override: a member's data export of the demo world completes and holds every section.

Each case runs ``manage.py`` in a subprocess with DJANGO_SETTINGS_MODULE=config.settings.local on a
fresh SQLite file and its own exports folder, so the storages are exactly the ones a laptop gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

EXPORT = """
import json
from django.conf import settings
from django.core.files.storage import storages
from accounts.members.models import User
from accounts.privacy import registry, services, tasks
from accounts.privacy.models import DataExport

alice = User.objects.get(username="alice")
export = services.data_export_request(member=alice)
if settings.SERVICES_MODE:
    # The request queued the task on Redis; run it as a worker would, in this process, and take
    # the queued copy away so no other worker meets an export id from this database.
    from config.celery import app
    app.control.purge()
    tasks.data_export_build.apply(args=[export.pk])
export = DataExport.objects.get(pk=export.pk)
with storages["exports"].open(export.file_name) as f:
    data = json.load(f)
print(json.dumps({"services": settings.SERVICES_MODE, "status": export.status,
                  "location": str(storages["exports"].location), "keys": sorted(data),
                  "sections": sorted(s.name for s in registry.sections())}))
"""


def _run_export(tmp_path: Path, redis_url: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'local.sqlite3'}",
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "CREDO_EXPORTS_ROOT": str(tmp_path / "exports"), "LOG_LEVEL": "WARNING"})
    if redis_url:
        env["REDIS_URL"] = redis_url
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo", "--members", "6", "--no-progress", "-v", "0",
                    "--partners-file", str(tmp_path / "partners.json")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    out = subprocess.run([*manage, "shell", "-c", EXPORT], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _check(result: dict[str, object], tmp_path: Path) -> None:
    assert result["status"] == "ready"
    assert result["location"] == str(tmp_path / "exports")
    sections = result["sections"]
    assert isinstance(sections, list) and len(sections) > 0
    assert result["keys"] == sorted([*sections, "format", "generated_at"])
    files = list((tmp_path / "exports").rglob("credo-export-*.json"))
    assert len(files) == 1


def test_export_completes_under_make_run_settings(tmp_path: Path) -> None:
    result = _run_export(tmp_path, redis_url=None)
    assert result["services"] is False
    _check(result, tmp_path)


@pytest.mark.services
def test_export_completes_in_services_mode(tmp_path: Path) -> None:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("REDIS_URL is required for the services tests", pytrace=False)
        pytest.skip("REDIS_URL is not set")
    result = _run_export(tmp_path, redis_url=redis_url)
    assert result["services"] is True
    _check(result, tmp_path)
