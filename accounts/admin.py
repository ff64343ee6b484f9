"""The accounts app's admin, one module per concern (Django's admin autodiscovery reads this one)."""

from accounts.members import admin as members_admin  # noqa: F401
