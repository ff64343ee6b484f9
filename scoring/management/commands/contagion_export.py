"""``manage.py contagion_export DIR``: the contagion state as CSV, for checking it independently."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand

from scoring.contagion.engine import social_points
from scoring.contagion.models import ContagionEdge, ContagionNode
from scoring.contagion.services import NEUTRAL_BASE, PARAMS


class Command(BaseCommand):
    help = (
        "Write nodes.csv (member_id,base,s,social_points) and edges.csv (member_a,member_b: the "
        "friendships active for contagion) so anyone can check the fixed point with their own solver."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("directory")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        out = Path(options["directory"])
        out.mkdir(parents=True, exist_ok=True)
        nodes = 0
        with (out / "nodes.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["member_id", "base", "s", "social_points"])
            for member_id, d, s in ContagionNode.objects.order_by("member_id").values_list("member_id", "d", "s"):
                writer.writerow([member_id, repr(d + NEUTRAL_BASE), repr(s), repr(social_points(s, PARAMS))])
                nodes += 1
        edges = 0
        with (out / "edges.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["member_a", "member_b"])
            for a, b in ContagionEdge.objects.order_by("member_a_id", "member_b_id").values_list(
                "member_a_id", "member_b_id"
            ):
                writer.writerow([a, b])
                edges += 1
        self.stdout.write(f"Wrote {nodes} nodes and {edges} edges to {out}/ (alpha={PARAMS.alpha}, "
                          f"lambda={PARAMS.lam}, cap={PARAMS.cap})")
