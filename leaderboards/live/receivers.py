"""Live pushes that are not about boards (new notifications, a logout that must close sockets),
and each Celery task's live messages leaving in one hop at its end (``broadcast.batch``): a
scoring or contagion batch publishes for hundreds of members."""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts.notifications.feed import live_payloads
from accounts.notifications.signals import notifications_created
from leaderboards.live import broadcast
from leaderboards.live.protocol import MessageType


@receiver(notifications_created, dispatch_uid="leaderboards.notifications_created")
def on_notifications_created(sender: Any, notifications: list[tuple[int, int]], **kwargs: Any) -> None:
    """Push new notifications, each with its member's unread count, to their open sockets
    (one query for all of them)."""
    payloads = live_payloads(notification_ids=[notification_id for notification_id, _ in notifications])
    for notification_id, member_id in notifications:
        if notification_id in payloads:
            broadcast.member_push(member_id=member_id,
                                  payload={"type": MessageType.NOTIFICATION, **payloads[notification_id]})


@receiver(user_logged_out, dispatch_uid="leaderboards.user_logged_out")
def on_logged_out(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None):
        broadcast.auth_check(member_id=user.pk)


@task_prerun.connect(dispatch_uid="leaderboards.broadcast_batch_open")
def on_task_start(**kwargs: Any) -> None:
    broadcast.batch_open()


@task_postrun.connect(dispatch_uid="leaderboards.broadcast_batch_close")
def on_task_end(**kwargs: Any) -> None:
    broadcast.batch_close()
