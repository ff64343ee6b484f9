"""``manage.py contagion_rebuild``: the nightly reconciliation of friend contagion, run by hand.
``--dry-run`` changes nothing: it measures what a rebuild would change and exits with status 1
when members are shown anything else."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from scoring.contagion import services


class Command(BaseCommand):
    help = (
        "Rebuild friend contagion from the source of truth: apply the social graph's vested "
        "friendships, fold every base in, run the global sparse solve, write social points. "
        "Reports what members were shown against the rebuilt state: the largest social-points gap "
        "and the displayed scores that changed. --dry-run measures the same and changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Change nothing: compare the stored state with an exact solve of the truth; "
                                 "exit non-zero when a member is shown anything else.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["dry_run"]:
            found = services.contagion_check()
            self.stdout.write(
                f"{found['members']} members, {found['edges']} friendships: {found['edges_missing']} missing and "
                f"{found['edges_extra']} extra in the contagion state, {found['bases_unfolded']} base(s) not folded "
                f"in; largest social-points gap {found['largest_points_gap']:.4f} (bound "
                f"{found['points_bound']:.2f}); {found['scores_differ']} displayed score(s) differ (by up to "
                f"{found['largest_score_gap']}); signal gap {found['largest_signal_gap']:.4f} (bound "
                f"{found['signal_bound']:.2f}); {time.perf_counter() - started:.2f} s")
            if found["differs"]:
                raise CommandError("members are shown social points or scores that differ from the truth")
            return
        with tqdm(total=1, desc="contagion rebuild", unit="solve") as bar:
            result = services.contagion_rebuild()
            bar.update(1)
        elapsed = time.perf_counter() - started
        # Judged on members who had an incremental state (new rows get their first points now).
        sound = result["largest_points_gap"] <= result["points_bound"] and not result["scores_differ"]
        self.stdout.write(
            f"{result['members']} members ({result['new_members']} new), {result['edges']} friendships; "
            f"largest social-points gap to the incremental state {result['largest_points_gap']:.4f} "
            f"({'within' if sound else 'OUTSIDE'} the bound {result['points_bound']:.2f}, "
            f"{result['scores_differ']} displayed score(s) off by up to {result['largest_score_gap']}); "
            f"{result['scores_changed']} displayed score(s) changed; signal gap {result['largest_gap']:.4f} "
            f"(bound ε/(1−α) = {result['bound']:.4f}); {elapsed:.2f} s"
        )
