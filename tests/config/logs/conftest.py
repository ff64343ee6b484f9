"""Log lines as production writes them: every record through the JSON formatter of
``config.logs.setup``, into a file, read back one JSON object per line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.logs.setup import formatter


class LogFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return self.path.read_text()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]


def capture(path: Path, level: int) -> Iterator[LogFile]:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter("json"))
    handler.setLevel(level)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield LogFile(path)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogFile]:
    """Every record of the test at INFO and above, as JSON lines."""
    yield from capture(tmp_path / "info.log", logging.INFO)


@pytest.fixture
def debug_logs(tmp_path: Path) -> Iterator[LogFile]:
    """Every record of the test at DEBUG and above, as JSON lines."""
    yield from capture(tmp_path / "debug.log", logging.DEBUG)
