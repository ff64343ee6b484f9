"""Domain signals of the accounts app.

Higher apps (scoring, leaderboards) listen to these; accounts never imports them.
``profile_changed`` fires after commit when a field that counts toward completeness, or a
privacy setting, changed. Arguments: ``user_id`` (int), ``fields`` (list of names).
"""

from django.dispatch import Signal

profile_changed = Signal()

#: A notification was written (sent after commit). Arguments: ``notification_id``,
#: ``member_id`` (ints). Leaderboards pushes it to the member's open sockets.
notification_created = Signal()
