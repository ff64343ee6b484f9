"""Demo accounts for a newcomer's first `make run` (never used in production)."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.members.models import User
from accounts.members.moderators import MODERATORS_GROUP

DEMO_PASSWORD = "credo-demo-pass"  # noqa: S105 - printed on purpose for the demo


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str


DEMO_ACCOUNTS = (
    DemoAccount("admin", "superuser"),
    DemoAccount("moderator", "moderator"),
    DemoAccount("alice", "member"),
    DemoAccount("bob", "member"),
    DemoAccount("carol", "member"),
    DemoAccount("mallory", "member"),
)


@transaction.atomic
def demo_accounts_ensure() -> list[DemoAccount]:
    """Create the demo accounts if missing (idempotent). Their emails are pre-verified."""
    moderators = Group.objects.get(name=MODERATORS_GROUP)
    for account in DEMO_ACCOUNTS:
        email = f"{account.username}@demo.credo.local"
        user, created = User.objects.get_or_create(
            username=account.username,
            defaults={"email": email, "is_staff": account.role == "superuser",
                      "is_superuser": account.role == "superuser", "on_global_board": True},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if account.role == "moderator":
            user.groups.add(moderators)
    return list(DEMO_ACCOUNTS)
