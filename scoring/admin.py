"""The scoring app's admin, one module per concern (Django's admin autodiscovery reads this one).

The moderators' admin comes last: it replaces the admins of members and friendships that the
other apps (loaded earlier) registered, and the ledger's event admin.
"""

from django.contrib import admin

from scoring.ingestion import admin as ingestion_admin  # noqa: F401
from scoring.ledger import admin as ledger_admin  # noqa: F401
from scoring.moderation import admin as moderation_admin
from scoring.webhooks import admin as webhooks_admin  # noqa: F401

moderation_admin.register(admin.site)
