"""Writes of the notification feed: every app notifies a member through ``notify``.

A muted kind (``NotificationMute``) is not written at all. After commit,
``accounts.signals.notification_created`` fires so the live layer can push it to open sockets.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Notification, NotificationMute
from accounts.signals import notification_created

Kind = Notification.Kind


def notify(*, member_id: int, kind: str, text: str, link: str = "") -> Notification | None:
    """Add ``text`` to the member's feed unless they muted ``kind``. Returns the row, or None
    when muted. Call inside the transaction that made the news: rolled back, nothing is sent."""
    if NotificationMute.objects.filter(member_id=member_id, kind=kind).exists():
        return None
    notification = Notification.objects.create(member_id=member_id, kind=kind, text=text[:2000], link=link[:200])
    transaction.on_commit(
        lambda: notification_created.send(sender=Notification, notification_id=notification.pk, member_id=member_id),
        robust=True,
    )
    return notification
