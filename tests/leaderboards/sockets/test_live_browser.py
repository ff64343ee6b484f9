"""The leaderboard page asks for ``rank.batch`` frames and applies them (Chromium via Playwright).

The embedded-mode server of ``test_browser.py``: alice and bob are friends, alice's friends
board is open, a partner event moves bob past her. The page subscribes with ``"batch": true``,
gets ONE ``rank.batch`` with both moved rows and applies it like two ``rank.changed``. Then the
same with the first delta of the batch dropped on its way to the page: the page sees the gap,
asks for a resync once and shows the snapshot that repairs it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.leaderboards.sockets.test_browser import (  # noqa: F401 - app_server is a fixture
    app_server,
    chromium,
    post_event,
)

pytestmark = pytest.mark.browser
SOCKET = re.compile(r".*/ws/leaderboards/.*")


def open_board(browser: Any, url: str, world: dict, *, drop_first_delta: bool) -> tuple[Any, list, list]:
    """alice's friends board, with every frame the page sends and receives recorded (JSON)."""
    context = browser.new_context(viewport={"width": 375, "height": 740})
    context.add_cookies([{"name": "sessionid", "value": world["session"], "url": url}])
    page = context.new_page()
    sent: list[dict] = []
    received: list[dict] = []

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            body = json.loads(message)
            if drop_first_delta and body.get("type") == "rank.batch" and not received_batches(received):
                body = {**body, "deltas": body["deltas"][1:]}  # as if the first row's update were lost
            received.append(body)
            ws.send(json.dumps(body))

        def to_server(message: str | bytes) -> None:
            sent.append(json.loads(message))
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(SOCKET, route)
    page.goto(url + "/leaderboard/")
    page.wait_for_selector("#leaderboard[data-seq='1']", timeout=10_000)
    return page, sent, received


def received_batches(received: list[dict]) -> list[dict]:
    return [m for m in received if m.get("type") == "rank.batch"]


def board_frames(received: list[dict]) -> list[tuple[str, list[int]]]:
    """(type, seqs) of the friends board's frames, in order."""
    out = []
    for m in received:
        if m.get("board") == "friends":
            seqs = [d["seq"] for d in m["deltas"]] if m["type"] == "rank.batch" else [m["seq"]]
            out.append((m["type"], seqs))
    return out


def names(page: Any) -> list[tuple[str, str]]:
    ranks = page.locator(".lb-row .lb-rank").all_inner_texts()
    return [(rank, name.split()[0]) for rank, name in zip(ranks, page.locator(".lb-row .lb-name").all_inner_texts(),
                                                          strict=True)]


def test_the_page_asks_for_batches_and_applies_one_as_its_deltas(app_server):  # noqa: F811
    url, world = app_server
    with chromium() as browser:
        page, sent, received = open_board(browser, url, world, drop_first_delta=False)
        assert [m for m in sent if m["type"] == "subscribe"] == [{"type": "subscribe", "board": "friends",
                                                                  "batch": True}]
        assert post_event(url, world) == 201
        page.wait_for_selector("#leaderboard[data-seq='3']", timeout=5_000)
        page.wait_for_selector(".lb-toast:not([hidden])", timeout=5_000)
        assert board_frames(received) == [("snapshot", [1]), ("rank.batch", [2, 3])]
        assert names(page) == [("1", "bob"), ("2", "alice")]
        assert page.locator(".lb-row.me .lb-rank").inner_text() == "2"
        assert "You were passed by bob" in page.locator(".lb-toast").inner_text()
        assert [m for m in sent if m["type"] == "resync"] == []


def test_a_gap_inside_a_batch_makes_the_page_resync_once(app_server):  # noqa: F811
    url, world = app_server
    with chromium() as browser:
        page, sent, received = open_board(browser, url, world, drop_first_delta=True)
        assert post_event(url, world) == 201
        # The batch arrives as [seq 3] after seq 1: a gap, so the page asks for the whole board.
        page.wait_for_selector("#leaderboard[data-seq='4']", timeout=5_000)
        assert board_frames(received) == [("snapshot", [1]), ("rank.batch", [3]), ("snapshot", [4])]
        assert [m for m in sent if m["type"] == "resync"] == [{"type": "resync", "board": "friends"}]
        assert names(page) == [("1", "bob"), ("2", "alice")]
