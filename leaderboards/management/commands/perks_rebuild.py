"""``manage.py perks_rebuild [--member USERNAME]``: bring every member's perk grants in step with
their score and the active catalogue (idempotent: a second run changes nothing). Used after a
bulk load that sent no ``score_changed`` (``seed_demo``), or to repair grants by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from leaderboards.gamification.perks import perks_sync
from leaderboards.management.members import add_member_argument, members_selected


class Command(BaseCommand):
    help = "Re-sync every member's perks with their score and the active catalogue (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        add_member_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        members = members_selected(options)
        ids = list(members.values_list("pk", flat=True))
        gained = lost = 0
        for member_id in tqdm(ids, desc="perks", unit="member", disable=len(ids) < 2):
            result = perks_sync(member_id=member_id)
            gained += len(result.gained)
            lost += len(result.lost)
        self.stdout.write(self.style.SUCCESS(
            f"Synced {len(ids)} member(s): {gained} perk(s) granted, {lost} closed."))
