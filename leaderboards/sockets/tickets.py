"""WebSocket tickets for native clients (DESIGN.md §8 ``POST ws-ticket/``).

A mobile client has a token, not a session cookie, and a WebSocket handshake cannot carry an
``Authorization`` header from every platform. It trades its token for a ticket: random, single
use, valid ``LEADERBOARDS_WS_TICKET_SECONDS`` (60 s), kept hashed in the cache. The first
handshake that presents it consumes it (``cache.delete`` answers who deleted it, so two racing
handshakes cannot both win).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from accounts.members.models import User

#: Random bytes in a ticket (its text is about 4/3 as long).
TICKET_BYTES = 32
#: A presented "ticket" longer than this is not one of ours: refused before any cache lookup.
TICKET_MAX_CHARS = 200


def _key(ticket: str) -> str:
    return "leaderboards:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def ticket_issue(*, member: User, token_key: str | None = None, session_key: str | None = None) -> str:
    """A new single-use ticket for ``member``; remembers which credential asked for it, so the
    socket closes when that token or session is logged out."""
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    cache.set(_key(ticket), {"member_id": member.pk, "token_key": token_key, "session_key": session_key},
              timeout=settings.LEADERBOARDS_WS_TICKET_SECONDS)
    return ticket


@dataclass(frozen=True)
class Grant:
    member: User
    token_key: str | None
    session_key: str | None


def ticket_consume(ticket: str) -> Grant | None:
    """The grant behind a ticket, exactly once; None if unknown, used, expired or the member is
    no longer active."""
    if not ticket or len(ticket) > TICKET_MAX_CHARS:
        return None
    key = _key(ticket)
    data = cache.get(key)
    if data is None or not cache.delete(key):
        return None
    member = User.objects.filter(pk=data["member_id"], is_active=True).first()
    if member is None:
        return None
    return Grant(member, data.get("token_key"), data.get("session_key"))


class TicketAuthMiddleware(BaseMiddleware):
    """``?ticket=`` authenticates the socket (it wins over a session cookie). A bad ticket
    leaves an anonymous user and ``scope["ticket_invalid"]``: the consumer closes with 4403."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        tickets = query.get("ticket")
        if tickets is not None:
            scope = dict(scope)
            grant = await database_sync_to_async(ticket_consume)(tickets[0])
            if grant is None:
                scope["user"] = AnonymousUser()
                scope["ticket_invalid"] = True
            else:
                scope["user"] = grant.member
                scope["lb_auth"] = {"via": "ticket", "token_key": grant.token_key,
                                    "session_key": grant.session_key}
        return await super().__call__(scope, receive, send)
