"""``manage.py badges_rebuild [--member USERNAME]``: evaluate every badge rule from the database
and award what is missing (idempotent: a second run awards nothing). Reports each new award."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from leaderboards.badges import badges_evaluate


class Command(BaseCommand):
    help = "Re-evaluate every badge rule from the database and award what is due (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--member", help="only this member (username)")

    def handle(self, *args: Any, **options: Any) -> None:
        members = User.objects.filter(is_active=True).order_by("pk")
        if options["member"]:
            members = members.filter(username=options["member"])
            if not members.exists():
                raise CommandError(f"No active member {options['member']!r}.")
        rows = list(members.values_list("pk", "username"))
        awarded = []
        for member_id, username in tqdm(rows, desc="badges", unit="member", disable=len(rows) < 2):
            for award in badges_evaluate(member_id=member_id):
                awarded.append(f"  {username}: {award.badge}{'/' + award.tier if award.tier else ''}"
                               f"{' ' + award.key if award.key else ''} — {award.explanation}")
        if options["verbosity"] >= 1:
            for line in awarded:
                self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(
            f"Evaluated {len(rows)} member(s); awarded {len(awarded)} badge(s)."))
