"""The socket's credential checks: is the login behind an open socket still good?

A socket remembers how it was opened (``scope["lb_auth"]``, ``socket_auth``): a session, or a
ticket (``tickets``) traded for a token or a session. A logout elsewhere must close it, so the
checks run again: for token and ticket sockets many at a time (``credentials_pass``: two
queries for all of a process's sockets), and for one socket with its session read too
(``credentials_valid``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db.models import Q
from django.utils import timezone
from knox.models import AuthToken

from accounts.members.models import User


def socket_auth(scope: dict[str, Any]) -> dict[str, Any]:
    """How the socket was opened: the ticket's grant (``TicketAuthMiddleware``), or its session."""
    auth = scope.get("lb_auth")
    if auth is None:
        session = scope.get("session")
        auth = {"via": "session", "session_key": session.session_key if session is not None else None}
    return auth


def credentials_pass(sockets: list[tuple[int, dict[str, Any]]]) -> list[bool]:
    """For each ``(member id, scope["lb_auth"])``: True if the member is active and the token
    behind the socket is still valid — or the socket came with a ticket that had neither token
    nor session. The rules for token and ticket sockets, for many sockets in two queries; a
    session socket does not pass here: ``credentials_valid`` reads its session."""
    ids = {member_id for member_id, _ in sockets}
    active = set(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    keys = {auth["token_key"] for _, auth in sockets if auth.get("token_key")}
    tokens = set(AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()), token_key__in=keys)
                 .values_list("token_key", "user_id")) if keys else set()
    out = []
    for member_id, auth in sockets:
        if member_id not in active:
            out.append(False)
        elif auth.get("token_key"):
            out.append((auth["token_key"], member_id) in tokens)
        else:
            out.append(not auth.get("session_key") and auth.get("via") == "ticket")
    return out


def credentials_valid(member_id: int, auth: dict[str, Any]) -> bool:
    """One socket's check (``auth``: its ``socket_auth``): ``credentials_pass`` for a token or
    a ticket; a session socket passes while its member is active and the session is still theirs."""
    session_key = auth.get("session_key")
    if auth.get("token_key") or not session_key:
        return credentials_pass([(member_id, auth)])[0]
    if not User.objects.filter(pk=member_id, is_active=True).exists():
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    return str(store.get(SESSION_KEY)) == str(member_id)
