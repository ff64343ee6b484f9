"""The notification feed: every app notifies a member through ``notify``.

A muted kind (``NotificationMute``) is not written at all, except the kinds in ``UNMUTABLE``.
After commit, ``accounts.notifications.signals.notifications_created`` fires so the live layer (leaderboards)
can push it to the member's open sockets.

The feed is small, so its writes (``notify``, ``notifications_mark_read``,
``notification_mutes_set``) and its reads (``feed_page``, ``unread_count``, ``muted_kinds``,
``live_payloads``) live together in this one module, the one other apps import.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.notifications.models import LINK_MAX_LENGTH, TEXT_MAX_LENGTH, Notification, NotificationMute
from accounts.notifications.signals import notifications_created
from config.kernel.after_commit import send_on_commit
from config.kernel.chunks import chunks
from config.kernel.keyset import InvalidCursor as InvalidCursor  # its readers catch it from here
from config.kernel.keyset import cursor_decode, cursor_encode

Kind = Notification.Kind

#: Kinds a member cannot mute: a moderator's decision about their account, their events or
#: their disputes moves their score or what they may do (DESIGN.md §2: every point is
#: explained), so it always reaches the feed (and their email). Thanks for a flag they raised
#: are a courtesy and may be muted.
UNMUTABLE: frozenset[str] = frozenset({Kind.ACCOUNT, Kind.EVENT, Kind.DISPUTE})
#: The kinds a member may mute, in the order the settings show them.
MUTABLE: tuple[str, ...] = tuple(k for k in Kind.values if k not in UNMUTABLE)

#: Feed page sizes (the API's ``?limit=``).
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class NotificationCode:
    UNKNOWN_KIND = "unknown_kind"  # 400: not a kind of notification
    NOT_MUTABLE = "not_mutable"  # 400: a kind that cannot be muted (UNMUTABLE)
    INVALID_CURSOR = "invalid_cursor"  # 400


# --- writes --------------------------------------------------------------------------------------


def notify(*, member_id: int, kind: str, text: str, link: str = "") -> Notification | None:
    """Add ``text`` to the member's feed unless they muted ``kind``. Returns the row, or None
    when muted. Call inside the transaction that made the news: rolled back, nothing is sent."""
    if kind not in UNMUTABLE and NotificationMute.objects.filter(member_id=member_id, kind=kind).exists():
        return None
    notification = Notification.objects.create(member_id=member_id, kind=kind, text=text[:TEXT_MAX_LENGTH],
                                               link=link[:LINK_MAX_LENGTH])
    _announce_on_commit([notification])
    return notification


def notify_many(*, kind: str, items: Sequence[tuple[int, str]], link: str = "") -> list[Notification]:
    """``notify`` for many ``(member_id, text)`` of one ``kind`` at once (a batch of badges, the
    friends a riser passed): the mutes read with one query, the rows written with one INSERT,
    and announced together after commit. Returns the rows written, in order (muted members'
    are left out)."""
    if not items:
        return []
    muted: set[int] = set()
    if kind not in UNMUTABLE:
        muted = set(NotificationMute.objects.filter(member_id__in={m for m, _ in items}, kind=kind)
                    .values_list("member_id", flat=True))
    rows = Notification.objects.bulk_create([Notification(member_id=member_id, kind=kind, text=text[:TEXT_MAX_LENGTH],
                                                          link=link[:LINK_MAX_LENGTH])
                                             for member_id, text in items if member_id not in muted])
    _announce_on_commit(rows)
    return rows


def _announce_on_commit(rows: Sequence[Notification]) -> None:
    """``notifications_created`` for ``rows``, once, after commit (rolled back: never)."""
    if not rows:
        return
    written = [(row.pk, row.member_id) for row in rows]
    send_on_commit(notifications_created, sender=Notification, notifications=written)


def notifications_mark_read(*, member_id: int, ids: Iterable[int] | None = None,
                            kinds: Iterable[str] | None = None) -> int:
    """Mark the member's unread notifications read: all of them, or those of ``ids`` (and/or
    of ``kinds``) that are theirs (other members' ids are ignored, never touched). Returns how
    many changed."""
    rows = Notification.objects.filter(member_id=member_id, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    return rows.update(read_at=timezone.now())


@transaction.atomic
def notification_mutes_set(*, member_id: int, kinds: Iterable[str]) -> list[str]:
    """Make ``kinds`` exactly the member's muted kinds. Every kind must be in ``MUTABLE``
    (callers validate; a ``ValueError`` here is a bug). Returns the muted kinds, sorted."""
    wanted = set(kinds)
    if not wanted <= set(MUTABLE):
        raise ValueError(f"cannot mute {sorted(wanted - set(MUTABLE))}")
    NotificationMute.objects.filter(member_id=member_id).exclude(kind__in=wanted).delete()
    have = set(NotificationMute.objects.filter(member_id=member_id).values_list("kind", flat=True))
    # ignore_conflicts: a concurrent save of the same mutes is not an error (notification_mute_once).
    NotificationMute.objects.bulk_create(
        [NotificationMute(member_id=member_id, kind=k) for k in sorted(wanted - have)], ignore_conflicts=True
    )
    return sorted(wanted)


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedPage:
    items: list[Notification]
    next_cursor: str | None



def feed_page(*, member_id: int, limit: int = PAGE_SIZE, cursor: str = "", unread_only: bool = False,
              kinds: Iterable[str] | None = None) -> FeedPage:
    """The member's feed (only ``kinds``, if given), newest first, ``limit`` items after
    ``cursor`` (keyset on ``(created_at, id)``: stable while new items arrive).
    ``InvalidCursor`` on a bad cursor."""
    rows = Notification.objects.filter(member_id=member_id)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    if cursor:
        at, pk = cursor_decode(cursor)
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    items = list(rows.order_by("-created_at", "-id")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return FeedPage(items=items, next_cursor=cursor_encode(items[-1].created_at, items[-1].pk) if more else None)


def unread_count(*, member_id: int) -> int:
    return Notification.objects.filter(member_id=member_id, read_at__isnull=True).count()


def muted_kinds(*, member_id: int) -> list[str]:
    return sorted(NotificationMute.objects.filter(member_id=member_id).values_list("kind", flat=True))


def representation(n: Notification) -> dict[str, Any]:
    """A notification as the API and the live socket show it."""
    return {"id": n.pk, "kind": n.kind, "text": n.text, "link": n.link, "created_at": n.created_at,
            "read": n.read_at is not None, "read_at": n.read_at}


#: Notifications per statement in ``live_payloads`` (SQLite allows 999 parameters by default).
LIVE_CHUNK = 500


def live_payloads(*, notification_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The bodies of the live ``notification`` messages (JSON-safe, without their ``type``,
    which the live layer's protocol names), each with its member's unread count, by id; rows
    deleted before the push are left out. One statement per ``LIVE_CHUNK`` notifications: it
    runs after every commit that wrote some, so it is sent as plain SQL built from the model's
    metadata (a raw query: the fields' own converters still apply)."""
    payloads: dict[int, dict[str, Any]] = {}
    for chunk in chunks(notification_ids, LIVE_CHUNK):
        for n in Notification.objects.raw(_live_sql(connection.alias, len(chunk)), list(chunk)):
            payloads[n.pk] = {"id": n.pk, "kind": n.kind, "text": n.text, "link": n.link,
                              "created_at": n.created_at.isoformat(),
                              "unread_count": n.unread_count}  # type: ignore[attr-defined]
    return payloads


@functools.lru_cache(maxsize=64)
def _live_sql(alias: str, count: int) -> str:
    """The notifications with their member's unread count (``unread_count``), by ``count`` ids."""
    qn = connections[alias].ops.quote_name
    meta: Any = Notification._meta
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    member, read_at = qn(meta.get_field("member").column), qn(meta.get_field("read_at").column)
    ids = ", ".join(["%s"] * count)
    return (f"SELECT n.*, (SELECT COUNT(*) FROM {table} u WHERE u.{member} = n.{member}"  # noqa: S608 - ours
            f" AND u.{read_at} IS NULL) AS unread_count FROM {table} n WHERE n.{pk} IN ({ids})")
