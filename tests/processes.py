"""Helpers for tests that start real processes: a free loopback port, and the processes a test
started, found by a marker in their environment (children inherit it), so none is left behind."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_marked(marker: str) -> list[int]:
    """Pids of the running (not zombie) processes whose environment holds ``marker``
    (``NAME=value``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found
