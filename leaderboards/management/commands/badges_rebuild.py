"""``manage.py badges_rebuild [--member USERNAME]``: evaluate every badge rule from the database
and award what is missing (idempotent: a second run awards nothing). Reports each new award."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from leaderboards.gamification.badges import badges_evaluate
from leaderboards.management.members import add_member_argument, members_selected


class Command(BaseCommand):
    help = "Re-evaluate every badge rule from the database and award what is due (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        add_member_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        members = members_selected(options)
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
