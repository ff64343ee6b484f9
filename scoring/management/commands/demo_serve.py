"""``make run``: seed the demo world if needed, then serve it with live partner traffic.

Three processes: this one (the supervisor), ``manage.py simulate`` in the background and
``manage.py runserver`` (daphne: HTTP and WebSockets) in the foreground. When the server stops —
Ctrl-C, SIGTERM, a crash, a port already in use — the simulator is stopped too, and this
command exits with the server's status. The simulator also watches its parent (``--watch-parent``),
so it never outlives a supervisor killed outright.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from scoring.demo.world import DEFAULT_SEED


class Command(BaseCommand):
    help = "Seed the demo world (idempotent), run the partner simulator beside the server, serve."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--members", type=int, default=300, help="size of the demo world (default 300)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--rate", type=float, default=2.0, help="simulated events per second (default 2)")
        parser.add_argument("--no-simulate", action="store_true", help="serve without simulated traffic")
        parser.add_argument("--noreload", action="store_true", help="passed on to runserver")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        addrport: str = options["addrport"]
        host, _, port = addrport.rpartition(":")
        if not port.isdigit():
            raise CommandError(f"Expected HOST:PORT, got {addrport!r}.")
        call_command("seed_demo", members=options["members"], seed=options["seed"], verbosity=options["verbosity"])

        manage = str(Path(settings.BASE_DIR) / "manage.py")
        simulator: subprocess.Popen[bytes] | None = None
        if not options["no_simulate"]:
            url = f"http://{host or '127.0.0.1'}:{port}"
            simulator = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
                [sys.executable, manage, "simulate", "--rate", str(options["rate"]), "--url", url,
                 "--watch-parent", "--every", "20"],
            )
        server_args = [sys.executable, manage, "runserver", addrport]
        if options["noreload"]:
            server_args.append("--noreload")
        server = subprocess.Popen(server_args)  # noqa: S603 - our own manage.py

        def on_term(signum: int, frame: Any) -> None:
            server.terminate()

        signal.signal(signal.SIGTERM, on_term)
        code = 0
        try:
            while True:
                try:
                    code = server.wait()
                    break
                except KeyboardInterrupt:
                    # Ctrl-C reached the whole process group: the server is stopping on its own.
                    continue
        finally:
            if server.poll() is None:
                server.terminate()
                _wait(server)
            if simulator is not None and simulator.poll() is None:
                simulator.terminate()
                _wait(simulator)
        if code not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise CommandError(f"runserver exited with status {code}.", returncode=code if code > 0 else 1)


def _wait(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
