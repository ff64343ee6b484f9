"""One line per WebSocket event: connected, refused, disconnected (with its close code and how long
the socket lived) and failed (an exception in the application, with its traceback).

An ASGI wrapper around the whole WebSocket stack (origin check included), so a handshake refused
for its origin is logged too. Each connection gets a request id (a well-formed ``X-Request-ID``
from the handshake, else a new one), bound for everything logged while it lives. The query string
(``?ticket=``) and the client's address are never logged.
"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog

from config.logs.middleware import UNMATCHED, request_id_accepted, request_id_new

logger = structlog.get_logger(__name__)

_ROUTE = re.compile(r"/ws/[a-z0-9_/-]{0,64}")


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class SocketLogMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "websocket":
            return await self.app(scope, receive, send)
        path = str(scope.get("path", ""))
        request_id = request_id_accepted(_header(scope, b"x-request-id")) or request_id_new()
        state = {"accepted": False, "logged": False, "opened": time.monotonic()}

        def lived_ms() -> float:
            return round((time.monotonic() - state["opened"]) * 1000, 1)

        async def send_logged(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind == "websocket.accept" and not state["accepted"]:
                state["accepted"] = True
                logger.info("socket_connected")
            elif kind == "websocket.close" and not state["logged"]:
                state["logged"] = True
                if state["accepted"]:
                    logger.info("socket_disconnected", code=message.get("code", 1000), by="server",
                                duration_ms=lived_ms())
                else:
                    logger.warning("socket_refused", code=message.get("code", 1000))
            await send(message)

        async def receive_logged() -> dict[str, Any]:
            message = await receive()
            if message.get("type") == "websocket.disconnect" and not state["logged"]:
                state["logged"] = True
                logger.info("socket_disconnected", code=message.get("code", 1005), by="client",
                            duration_ms=lived_ms())
            return message

        with structlog.contextvars.bound_contextvars(
            request_id=request_id, request=f"WS {path if _ROUTE.fullmatch(path) else UNMATCHED}",
        ):
            try:
                return await self.app(scope, receive_logged, send_logged)
            except Exception:
                logger.exception("socket_failed", accepted=state["accepted"], duration_ms=lived_ms())
                raise
