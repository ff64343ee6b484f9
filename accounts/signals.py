"""Domain signals of the accounts app.

Higher apps (scoring, leaderboards) listen to these; accounts never imports them.
``profile_changed`` fires after commit when a field that counts toward completeness, or a
privacy setting, changed. Arguments: ``user_id`` (int), ``fields`` (list of names).
"""

from django.dispatch import Signal

profile_changed = Signal()

#: Notifications were written (sent once per writing call, after commit). Argument:
#: ``notifications``, a list of ``(notification_id, member_id)``. Leaderboards pushes each to
#: its member's open sockets.
notifications_created = Signal()
