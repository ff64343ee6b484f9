"""Keyset cursors over ``(a moment, an id)``: opaque, URL-safe, and stable while new rows arrive
(the next page starts after the last row seen, not at an offset)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


class InvalidCursor(ValueError):
    """A cursor this API did not give out."""


def cursor_encode(at: datetime, pk: int) -> str:
    raw = f"{at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """``(moment, id)`` of a cursor from ``cursor_encode``; ``InvalidCursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, _, pk_text = raw.partition("|")
        at = parse_datetime(at_text)
        pk = int(pk_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise InvalidCursor(cursor) from exc
    if at is None or at.tzinfo is None:
        raise InvalidCursor(cursor)
    try:
        at.astimezone(UTC)  # a moment at the calendar's edge cannot be compared with stored ones
    except OverflowError as exc:
        raise InvalidCursor(cursor) from exc
    return at, pk
