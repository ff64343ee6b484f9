"""One line per WebSocket event (config.logs.sockets), against the real ``config.asgi.application``:
connected, disconnected (by whom, with its code), refused; never the ticket, the cookie or the
client's address."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.leaderboards.sockets.test_consumers import _session_cookie

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/leaderboards/"
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
async def _flush_layer():  # type: ignore[no-untyped-def]
    yield
    await get_channel_layer().flush()


def _socket_lines(logs) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(line["event"], line.get("code"), line.get("by"), line["request"])
            for line in logs.lines() if line["event"].startswith("socket_")]


async def test_a_member_socket_logs_connected_then_disconnected_by_the_client(logs, alice):
    cookie = await database_sync_to_async(_session_cookie)(alice)
    socket = WebsocketCommunicator(application, PATH, headers=[ORIGIN, (b"cookie", cookie),
                                                               (b"x-request-id", b"sock-1")])
    connected, _ = await socket.connect()
    assert connected
    await socket.disconnect(code=1001)
    assert _socket_lines(logs) == [("socket_connected", None, None, "WS /ws/leaderboards/"),
                                   ("socket_disconnected", 1001, "client", "WS /ws/leaderboards/")]
    lines = [line for line in logs.lines() if line["event"].startswith("socket_")]
    assert {line["request_id"] for line in lines} == {"sock-1"}
    assert lines[1]["duration_ms"] >= 0 and lines[1]["level"] == "info"
    assert cookie.decode().split("=", 1)[1] not in logs.text()


async def test_an_anonymous_native_socket_is_closed_by_the_server_with_its_code(logs):
    socket = WebsocketCommunicator(application, PATH + "?ticket=not-a-real-ticket-value")
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["code"] == "ticket_invalid"
    assert (await socket.receive_output(timeout=2))["code"] == 4403
    await socket.disconnect()
    assert _socket_lines(logs) == [("socket_connected", None, None, "WS /ws/leaderboards/"),
                                   ("socket_disconnected", 4403, "server", "WS /ws/leaderboards/")]
    assert "not-a-real-ticket-value" not in logs.text()


async def test_a_foreign_origin_is_logged_as_refused(logs, alice):
    socket = WebsocketCommunicator(application, PATH, headers=[(b"origin", b"https://evil.example")])
    connected, _ = await socket.connect()
    assert not connected
    await socket.disconnect()
    [line] = [line for line in logs.lines() if line["event"].startswith("socket_")]
    assert (line["event"], line["level"], line["request"]) == ("socket_refused", "warning", "WS /ws/leaderboards/")


async def test_a_malformed_request_id_on_a_socket_is_replaced(logs):
    socket = WebsocketCommunicator(application, PATH, headers=[(b"x-request-id", b"bad id\r\nx")])
    await socket.connect()
    await socket.disconnect()
    ids = {line["request_id"] for line in logs.lines() if line["event"].startswith("socket_")}
    assert len(ids) == 1 and "bad id" not in ids.pop()
