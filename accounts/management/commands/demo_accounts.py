from django.core.management.base import BaseCommand

from accounts.members.demo import DEMO_PASSWORD, demo_accounts_ensure


class Command(BaseCommand):
    help = "Create the demo admin, moderator and members (idempotent) and print their logins."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        accounts = demo_accounts_ensure()
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for account in accounts:
            self.stdout.write(f"  {account.username:<10} {account.role}")
