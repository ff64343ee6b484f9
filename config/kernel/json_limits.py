"""One JSON reader for everything a client sends: a size and a nesting limit, never a 5xx.

The API (``LimitedJSONParser``, DRF's parser), the signed ingestion (which reads raw bytes for
its signature) and the WebSocket all read JSON through ``loads``:

* more than ``limit_bytes`` (``DATA_UPLOAD_MAX_MEMORY_SIZE`` unless told otherwise) → ``TooLarge``,
  413 ``too_large``;
* nested deeper than ``settings.JSON_MAX_DEPTH`` (32) → ``TooDeep``, 400 ``too_deep`` (Python's
  decoder recurses: a deep enough document raised ``RecursionError``, a 500);
* not JSON, or not UTF-8 → ``Malformed``, 400 ``parse_error``.

Each is a ``DomainError``, so the API answers ``{"code", "detail"}``. ``BodyLimitMiddleware``
answers an ``/api/`` request whose ``Content-Length`` is over the limit before its body is read
(Django would raise ``RequestDataTooBig`` and answer an HTML 400).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from rest_framework.parsers import BaseParser

from config.kernel.errors import DomainError, ErrorCode, json_error

#: The deepest nesting any payload of ours needs is 3 (a batch of events); 32 leaves room.
DEFAULT_MAX_DEPTH = 32


class TooDeep(DomainError):
    status, code = 400, ErrorCode.TOO_DEEP

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested more than {limit} levels deep.")


class TooLarge(DomainError):
    status, code = 413, ErrorCode.TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than {limit} bytes.")


class Malformed(DomainError):
    status, code = 400, ErrorCode.PARSE_ERROR


def max_depth() -> int:
    return int(getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


def loads(data: bytes | str, *, limit_bytes: int | None = None, limit_depth: int | None = None) -> Any:
    """The JSON value of ``data``, or ``TooLarge`` / ``TooDeep`` / ``Malformed``."""
    limit_bytes = max_body_bytes() if limit_bytes is None else limit_bytes
    limit_depth = max_depth() if limit_depth is None else limit_depth
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > limit_bytes:
        raise TooLarge(limit_bytes)
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:  # the C decoder recursed past the interpreter's limit
        raise TooDeep(limit_depth) from exc
    except UnicodeDecodeError as exc:
        raise Malformed("The body is not UTF-8.") from exc
    except ValueError as exc:
        raise Malformed(f"Malformed JSON: {exc}") from exc
    # A document with fewer brackets than the limit cannot be nested deeper (the common case:
    # one C-speed count, no walk).
    if raw.count(b"[") + raw.count(b"{") > limit_depth:
        _check_depth(value, limit_depth)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python's extension, not JSON


def _check_depth(value: Any, limit: int) -> None:
    """``TooDeep`` if containers nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    raise TooDeep(limit)
                stack.append((child, depth + 1))


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``, or ``TooLarge``; Django's own size check
    (``RequestDataTooBig``, raised for a declared length) becomes ``TooLarge`` too."""
    try:
        data = stream.read(limit + 1)
    except RequestDataTooBig as exc:
        raise TooLarge(limit) from exc
    if len(data) > limit:
        raise TooLarge(limit)
    return data


def request_body(request: HttpRequest) -> bytes:
    """``request.body`` within the limit (for views that need the raw bytes, e.g. signatures)."""
    limit = max_body_bytes()
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise TooLarge(limit) from exc
    if len(body) > limit:
        raise TooLarge(limit)
    return body


class LimitedJSONParser(BaseParser):
    """DRF's JSON parser, through ``loads`` (the API's only parser)."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_body_bytes()
        return loads(read_limited(stream, limit), limit_bytes=limit)


class BodyLimitMiddleware:
    """A JSON 413 for an API request that declares a body over the limit, before it is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            limit = max_body_bytes()
            if declared > limit:
                error = TooLarge(limit)
                return json_error(error.status, error.code, error.detail)
        return self.get_response(request)
