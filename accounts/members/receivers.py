"""Accounts' receivers (connected when ``AccountsConfig.ready`` imports this module)."""

from __future__ import annotations

from django.db.models.signals import post_migrate

from accounts.members.moderators import sync_moderator_permissions

# Permissions of every app exist only after its migrations ran, so the Moderators group's
# permission list is synced after each migrate, not inside a migration.
post_migrate.connect(sync_moderator_permissions, dispatch_uid="credo.sync_moderators")
