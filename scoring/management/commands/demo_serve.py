"""``make run``: seed the demo world if needed, then serve it with live partner traffic.

Three processes: this one (the supervisor), ``manage.py simulate`` in the background and
``manage.py runserver`` (daphne: HTTP and WebSockets). The server and the simulator run in
process groups of their own, so Ctrl-C reaches the supervisor alone, which stops both at once
(SIGTERM to each group, SIGKILL after ``STOP_GRACE`` seconds) instead of letting the server wait
for its open WebSockets. When the server stops for any other reason — SIGTERM, a crash, a port
already in use — the simulator is stopped too, and this command exits with the server's status.
The simulator also watches its parent (``--watch-parent``), so it never outlives a supervisor
killed outright.

The terminal stays readable: no line per request unless ``--requests`` (config/settings/local.py),
the simulator's summary every 20 events, and emails in a framed block.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.members.demo import DEMO_PASSWORD
from scoring.demo.world import DEFAULT_SEED

#: Seconds the server and the simulator get to stop after SIGTERM before they are killed.
STOP_GRACE = 1.0


class Command(BaseCommand):
    help = "Seed the demo world (idempotent), run the partner simulator beside the server, serve."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--members", type=int, default=300, help="size of the demo world (default 300)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--rate", type=float, default=2.0, help="simulated events per second (default 2)")
        parser.add_argument("--no-simulate", action="store_true", help="serve without simulated traffic")
        parser.add_argument("--noreload", action="store_true", help="passed on to runserver")
        parser.add_argument("--requests", action="store_true", help="log one line per HTTP request")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        addrport: str = options["addrport"]
        host, _, port = addrport.rpartition(":")
        if not port.isdigit():
            raise CommandError(f"Expected HOST:PORT, got {addrport!r}.")
        call_command("seed_demo", members=options["members"], seed=options["seed"], verbosity=options["verbosity"])

        manage = str(Path(settings.BASE_DIR) / "manage.py")
        url = f"http://{host or '127.0.0.1'}:{port}"
        env = {**os.environ, "CREDO_REQUEST_LOG": "1" if options["requests"] else os.environ.get(
            "CREDO_REQUEST_LOG", "0")}
        simulator: subprocess.Popen[bytes] | None = None
        if not options["no_simulate"]:
            simulator = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
                [sys.executable, manage, "simulate", "--rate", str(options["rate"]), "--url", url,
                 "--watch-parent", "--every", "20"], start_new_session=True,
            )
        server_args = [sys.executable, manage, "runserver", addrport, "--skip-checks"]
        if options["noreload"]:
            server_args.append("--noreload")
        server = subprocess.Popen(server_args, env=env, start_new_session=True)  # noqa: S603 - our own manage.py
        self.stdout.write(self.style.SUCCESS(f"\nCredo: {url}/  ·  log in as alice / {DEMO_PASSWORD}  ·  "
                                             f"admin: {url}/admin/ (moderator, same password)"))
        self.stdout.write("Emails (sign-up confirmation, password reset) appear below in a framed block. "
                          "Ctrl-C stops everything.\n")

        def on_term(signum: int, frame: Any) -> None:
            # Raised, not handled here: stopping inside the handler would wait on the server from
            # within the interrupted ``server.wait()``, whose lock it still holds (a deadlock).
            raise Terminated

        signal.signal(signal.SIGTERM, on_term)
        code = 0
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = -signal.SIGINT
        except Terminated:
            code = -signal.SIGTERM
        finally:
            _stop(*(p for p in (server, simulator) if p is not None))
        if code not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise CommandError(f"runserver exited with status {code}.", returncode=code if code > 0 else 1)
        self.stdout.write("Stopped.")


class Terminated(Exception):
    """SIGTERM reached the supervisor."""


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each process's group (runserver's reloader and its child alike) at once, then
    SIGKILL to those still running ``STOP_GRACE`` seconds later."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
