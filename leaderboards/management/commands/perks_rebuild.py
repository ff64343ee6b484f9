"""``manage.py perks_rebuild [--member USERNAME]``: bring every member's perk grants in step with
their score and the active catalogue (idempotent: a second run changes nothing). Used after a
bulk load that sent no ``score_changed`` (``seed_demo``), or to repair grants by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from leaderboards.perks import perks_sync


class Command(BaseCommand):
    help = "Re-sync every member's perks with their score and the active catalogue (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--member", help="only this member (username)")

    def handle(self, *args: Any, **options: Any) -> None:
        members = User.objects.filter(is_active=True).order_by("pk")
        if options["member"]:
            members = members.filter(username=options["member"])
            if not members.exists():
                raise CommandError(f"No active member {options['member']!r}.")
        ids = list(members.values_list("pk", flat=True))
        gained = lost = 0
        for member_id in tqdm(ids, desc="perks", unit="member", disable=len(ids) < 2):
            result = perks_sync(member_id=member_id)
            gained += len(result.gained)
            lost += len(result.lost)
        self.stdout.write(self.style.SUCCESS(
            f"Synced {len(ids)} member(s): {gained} perk(s) granted, {lost} closed."))
