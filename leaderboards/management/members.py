"""What the rebuild commands share: ``--member USERNAME`` or every active member."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db.models import QuerySet

from accounts.members.models import User


def add_member_argument(parser: Any) -> None:
    parser.add_argument("--member", help="only this member (username)")


def members_selected(options: dict[str, Any]) -> QuerySet[User]:
    """The active members a rebuild covers, in id order; ``CommandError`` for an unknown name."""
    members = User.objects.filter(is_active=True).order_by("pk")
    if options.get("member"):
        members = members.filter(username=options["member"])
        if not members.exists():
            raise CommandError(f"No active member {options['member']!r}.")
    return members
