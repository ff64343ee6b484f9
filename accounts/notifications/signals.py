"""Domain signals of the notification feed (higher apps listen; accounts never imports them)."""

from django.dispatch import Signal

#: Notifications were written (sent once per writing call, after commit). Argument:
#: ``notifications``, a list of ``(notification_id, member_id)``. Leaderboards pushes each to
#: its member's open sockets.
notifications_created = Signal()
