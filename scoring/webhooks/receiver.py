"""A webhook receiver on this machine: what a partner runs, small enough for tests and the demo.

A threaded ``http.server`` on the loopback that checks each message's signature with the
``standardwebhooks`` library (as a partner would), records what it received, and answers with
``status`` (200 by default; set 503 to play a receiver that is down but listening, or ``stop()``
it to play one that is not listening at all — ``start()`` again listens on the same port).
Delivered messages are deduplicated on ``webhook-id`` in ``messages()``, as the spec asks
receivers to do; ``requests`` keeps every request, duplicates included.

Used by the tests (a real receiver, no mock of the sender) and by the demo's partner. Webhooks
only reach it where ``WEBHOOKS_ALLOW_LOCAL`` is on (development, or a test that sets it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

#: The most a receiver reads of one request body (bytes).
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Received:
    """One request as it arrived: headers (lower-case names), the raw body, whether its
    signature verified with the receiver's secrets, and its JSON (None if it did not verify)."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: dict[str, Any] | None
    answered: int

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    """``Receiver(secrets=["whsec_…"]).start()``; ``url`` to configure; ``stop()`` when done."""

    secrets: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    status: int = 200
    #: Sent as ``Location`` with a 3xx ``status`` (a receiver that redirects).
    location: str = ""
    #: Called with each verified message (type, data) before answering, e.g. to act on it.
    on_message: Callable[[Received], None] | None = None
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                receiver._handle(self, self.rfile.read(length))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the requests are kept in ``requests``

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the port is kept: ``start()`` listens on it again)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)  # type: ignore[no-any-return]
            except WebhookVerificationError:
                continue
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        payload = self._verify(body, headers)
        status = self.status if payload is not None else 401
        received = Received(path=handler.path, headers=headers, body=body, verified=payload is not None,
                            payload=payload, answered=status)
        if payload is not None and status < 300 and self.on_message is not None:
            self.on_message(received)
        with self._changed:  # recorded before answering: the sender may look as soon as it has the answer
            self.requests.append(received)
            self._changed.notify_all()
        handler.send_response(status)
        if self.location and 300 <= status < 400:
            handler.send_header("location", self.location)
        handler.send_header("content-type", "application/json")
        handler.end_headers()
        handler.wfile.write(json.dumps({"received": received.msg_id}).encode())

    def messages(self) -> list[Received]:
        """The messages it accepted (2xx, verified), each once, in the order first accepted."""
        with self._changed:
            seen: dict[str, Received] = {}
            for r in self.requests:
                if r.verified and r.answered < 300 and r.msg_id not in seen:
                    seen[r.msg_id] = r
            return list(seen.values())

    def wait_for(self, count: int, *, timeout: float = 10.0) -> bool:
        """Wait until it holds at least ``count`` requests (any answer); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
