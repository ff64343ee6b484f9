"""The accounts app's models, one module per concern; Django registers them from here."""

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from accounts.privacy.models import DataExport

__all__ = ["DataExport", "Notification", "NotificationMute", "User"]
