import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy_with_no_warnings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "k" * 20 + "8f3j2lq0v9x7c6b5n4m3a2s1d0f9g8h7j6k5",
        "ALLOWED_HOSTS": "credo.example.com",
        "DATABASE_URL": "postgres://credo@db.example.com/credo",
        "REDIS_URL": "redis://cache.example.com:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_the_dev_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


SERVICES_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.services",
    "SECRET_KEY": "k" * 20 + "8f3j2lq0v9x7c6b5n4m3a2s1d0f9g8h7j6k5",
    "DATABASE_URL": "postgres://credo@db.example.com/credo",
    "REDIS_URL": "redis://cache.example.com:6379/0",
}


def _settings_of(env: dict[str, str], *names: str) -> list[str]:
    code = "import django; django.setup(); from django.conf import settings as s; " + "; ".join(
        f"print(repr(s.{name}))" for name in names)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-len(names):]


def test_the_services_recipe_runs_with_debug_off_and_a_required_secret():
    env = {**SERVICES_ENV, "DEBUG": "true"}  # asking for DEBUG does not turn it on
    assert _settings_of(env, "DEBUG", "SERVICES_MODE") == ["False", "True"]
    without_key = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {
        k: v for k, v in SERVICES_ENV.items() if k != "SECRET_KEY"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=without_key,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def test_services_mode_runs_the_services_settings_on_loopback():
    """make services (the Procfile) and the README's by-hand recipe alike."""
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                    if line and not line.startswith("#"))
    assert set(procfile) == {"release", "web", "worker", "beat", "simulator"}
    assert "--host 127.0.0.1" in procfile["web"] and "--host 0.0.0.0" not in procfile["web"]
    assert "--workers ${WEB_WORKERS:-2}" in procfile["web"]
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nservices:"):makefile.index("\n\n", makefile.index("\nservices:"))]
    assert "DJANGO_SETTINGS_MODULE=config.settings.services" in recipe and "honcho start" in recipe
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Services mode on one machine"):]
    assert "make services" in section[:section.index("```", section.index("```sh") + 5)]
    by_hand = section[section.index("The same processes by hand"):]
    by_hand = by_hand[by_hand.index("```sh"):by_hand.index("```", by_hand.index("```sh") + 5)]
    assert "DJANGO_SETTINGS_MODULE=config.settings.services" in by_hand
    assert "--host 0.0.0.0" not in by_hand and "--host 127.0.0.1" in by_hand
    assert "config.settings.local" not in by_hand


def test_debug_in_local_answers_this_machine_only(rf):
    from django.http import HttpResponse

    from config.kernel.loopback import LoopbackOnlyMiddleware

    guard = LoopbackOnlyMiddleware(lambda request: HttpResponse("debug page"))
    for address in ("127.0.0.1", "::1"):
        assert guard(rf.get("/", REMOTE_ADDR=address)).content == b"debug page"
    refused = guard(rf.get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="127.0.0.1"))
    assert refused.status_code == 403 and b"debug page" not in refused.content
    local = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": ""}
    [debug, first] = _settings_of(local, "DEBUG", "MIDDLEWARE[0]")
    assert (debug, first) == ("True", "'config.kernel.loopback.LoopbackOnlyMiddleware'")


def _setting(module: str, name: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    env.update({"DJANGO_SETTINGS_MODULE": module, "SECRET_KEY": "k" * 20 + "8f3j2lq0v9x7c6b5n4m3a2s1d0f9g8h7j6k5",
                "DATABASE_URL": "postgres://credo@db.example.com/credo", "REDIS_URL": "redis://cache.example.com:6379/0",
                **extra})
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; "
                             f"print(settings.{name})"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_metrics_are_open_to_the_loopback_only_where_nothing_stands_in_front():
    # Behind a TLS proxy on the same host every client looks like 127.0.0.1: a token or named networks.
    assert _setting("config.settings.production", "METRICS_ALLOWED_IPS") == "[]"
    assert _setting("config.settings.production", "METRICS_ALLOWED_IPS",
                    METRICS_ALLOWED_IPS="10.20.0.0/16") == "['10.20.0.0/16']"
    # make services binds 127.0.0.1 with nothing in front.
    assert _setting("config.settings.services", "METRICS_ALLOWED_IPS") == "['127.0.0.0/8', '::1']"
