"""Domain signals about members (higher apps listen; accounts never imports them).

``profile_changed`` fires after commit when a field that counts toward completeness, or a
privacy setting, changed. Arguments: ``user_id`` (int), ``fields`` (list of names).
"""

from django.dispatch import Signal

profile_changed = Signal()
