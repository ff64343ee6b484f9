"""``manage.py rescore``: recompute members' scores from their events (``scoring.ledger.rebuild``)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.members.models import User
from scoring.ledger.rebuild import member_rebuild


class Command(BaseCommand):
    help = (
        "Recompute scores from events (the rebuild path) and report every member whose stored "
        "score differed. Differences are corrected with a 'model recalibration' ledger row "
        "unless --dry-run."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--member", help="username")
        target.add_argument("--all", action="store_true")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if options["member"]:
            ids = list(User.objects.filter(username=options["member"]).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"No member {options['member']!r}.")
        else:
            ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
        differed = []
        for member_id in tqdm(ids, desc="rescore", unit="member", disable=len(ids) < 2):
            diff = member_rebuild(member_id=member_id, write=not options["dry_run"])
            if diff is not None:
                differed.append(diff)
        for diff in differed:
            self.stdout.write(f"  {diff}")
        self.stdout.write(
            f"Rescored {len(ids)} member(s); {len(differed)} differed from the stored score."
        )
