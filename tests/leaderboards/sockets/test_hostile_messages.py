"""Hostile frames on the live socket: nested JSON keeps the socket up with an error, an oversized
message gets an error and the documented close code (1009)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from leaderboards.sockets.consumers import CLOSE_MESSAGE_TOO_BIG, MESSAGE_MAX_BYTES
from tests.leaderboards.conftest import member, subscribe
from tests.leaderboards.sockets.test_consumers import connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _flush_layer():  # type: ignore[no-untyped-def]
    yield
    await get_channel_layer().flush()


async def _alice():  # type: ignore[no-untyped-def]
    return await database_sync_to_async(member)("alice", 700)


async def test_nested_json_gets_an_error_and_the_socket_stays_up():
    socket = await connect(await _alice())
    await socket.send_to(text_data="[" * 50_000 + "]" * 50_000)
    error = await socket.receive_json_from()
    assert error == {"type": "error", "code": "too_deep", "detail": "JSON nested more than 32 levels deep."}
    await socket.send_to(text_data='{"type": "subscribe", "board": "friends", "x": ' + "[" * 40 + "]" * 40 + "}")
    assert (await socket.receive_json_from())["code"] == "too_deep"
    assert (await subscribe(socket, "friends"))["seq"] == 1  # still alive and well
    await socket.disconnect()


async def test_an_oversized_message_gets_an_error_and_a_1009_close():
    socket = await connect(await _alice())
    await socket.send_to(text_data='{"type": "subscribe", "board": "' + "x" * MESSAGE_MAX_BYTES + '"}')
    error = await socket.receive_json_from()
    assert error == {"type": "error", "code": "too_large", "detail": "A message is at most 131072 bytes."}
    closed = await socket.receive_output()
    assert closed == {"type": "websocket.close", "code": CLOSE_MESSAGE_TOO_BIG} and CLOSE_MESSAGE_TOO_BIG == 1009
    await socket.disconnect()
