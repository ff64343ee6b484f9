"""The Moderators group: admin access without superuser powers (DESIGN.md §10).

``MODERATOR_PERMISSIONS`` is the whole list of what a moderator may do; anything not here
(deleting members, changing permissions or groups) stays refused. The admin site
(``config.admin_site``) lets in whoever ``is_moderator``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

MODERATORS_GROUP = "Moderators"

MODERATOR_PERMISSIONS: list[str] = [
    "accounts.view_user",
    "accounts.change_user",
]


def is_moderator(user: Any) -> bool:
    """Staff, or an active member of the Moderators group (``user`` may be anonymous)."""
    return bool(
        user.is_active
        and user.is_authenticated
        and (user.is_staff or user.groups.filter(name=MODERATORS_GROUP).exists())
    )


def admin_accounts() -> Q:
    """The accounts that can enter the admin (``is_moderator``'s, as a filter): staff,
    superusers and the Moderators group, whether active or not."""
    return Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name=MODERATORS_GROUP)


def register_moderator_permissions(*dotted: str) -> None:
    """Let a higher app add its own moderator permissions (called from its ``ready()``)."""
    for name in dotted:
        if name not in MODERATOR_PERMISSIONS:
            MODERATOR_PERMISSIONS.append(name)


def sync_moderator_permissions(sender: Any = None, **kwargs: Any) -> None:
    """Give the Moderators group exactly ``MODERATOR_PERMISSIONS`` (a ``post_migrate`` receiver)."""
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    wanted = Q(pk__in=[])
    for dotted in MODERATOR_PERMISSIONS:
        app_label, codename = dotted.split(".", 1)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    # One query for the whole list: post_migrate calls this once per installed app.
    group.permissions.set(Permission.objects.filter(wanted))
