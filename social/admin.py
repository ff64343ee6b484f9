"""The social app's admin, one module per concern (Django's admin autodiscovery reads this one)."""

from social.graph import admin as graph_admin  # noqa: F401
from social.invitations import admin as invitations_admin  # noqa: F401
