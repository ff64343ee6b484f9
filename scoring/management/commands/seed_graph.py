"""Load an edge list (``u v`` per line) as members with varied bases and vested friendships.

For contagion tests and benchmarks: bases are drawn synthetically (seeded), not from events, so
``rescore`` would move them back to what their (absent) events say; use ``seed_demo`` for a
world with real event histories.
"""

import math
import random
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.members.models import User
from config.kernel.chunks import chunks
from scoring.ledger.models import ScoreState
from scoring.model import PARAMS, band_for, total_score
from social.graph.models import Friendship

#: Synthetic bases: normal around the neutral base with this spread (points), within the scale.
BASE_SPREAD = 80.0
#: Rows per bulk INSERT.
MEMBERS_PER_INSERT = 2000
FRIENDSHIPS_PER_INSERT = 5000


class Command(BaseCommand):
    help = "Load an edge list as members (graph-<node>) and vested friendships, then rebuild contagion."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file")
        parser.add_argument("--prefix", default="graph-")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--no-rebuild", action="store_true")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        pairs = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                u, v = int(parts[0]), int(parts[1])
                if u != v:
                    pairs.append((min(u, v), max(u, v)))
        pairs = sorted(set(pairs))
        nodes = sorted({n for pair in pairs for n in pair})
        rng = random.Random(options["seed"])
        prefix = options["prefix"]
        password = make_password(None)  # unusable: seeded graph members cannot log in
        now = timezone.now()
        with transaction.atomic():
            existing = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
            new_users = [
                User(username=f"{prefix}{n}", email=f"{prefix}{n}@graph.credo.local", password=password)
                for n in nodes if f"{prefix}{n}" not in existing
            ]
            for batch in tqdm(chunks(new_users, MEMBERS_PER_INSERT), desc="members", unit="batch",
                              total=math.ceil(len(new_users) / MEMBERS_PER_INSERT)):
                User.objects.bulk_create(batch)
            ids = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
            member_of = {n: ids[f"{prefix}{n}"] for n in nodes}
            states = []
            have_state = set(
                ScoreState.objects.filter(member_id__in=member_of.values()).values_list("member_id", flat=True)
            )
            for n in nodes:
                if member_of[n] in have_state:
                    continue
                base = min(float(PARAMS.score_max), max(float(PARAMS.score_min),
                                                         rng.gauss(PARAMS.contagion_neutral_base, BASE_SPREAD)))
                score = total_score(base, 0.0)
                states.append(ScoreState(member_id=member_of[n], base=base, social=0.0, score=score, factors={}))
            ScoreState.objects.bulk_create(states, batch_size=MEMBERS_PER_INSERT)
            for state in states:
                User.objects.filter(pk=state.member_id).update(score=state.score, score_band=band_for(state.score),
                                                               score_reached_at=now)
            live = Friendship.objects.filter(member_a_id__in=member_of.values(), ended_at__isnull=True)
            have_edge = set(live.values_list("member_a_id", "member_b_id"))
            vested = now - timedelta(days=365)
            friendships = []
            for u, v in pairs:
                a, b = sorted((member_of[u], member_of[v]))
                if (a, b) not in have_edge:
                    friendships.append(Friendship(member_a_id=a, member_b_id=b, accepted_at=vested))
            for batch in tqdm(chunks(friendships, FRIENDSHIPS_PER_INSERT), desc="friendships", unit="batch",
                              total=math.ceil(len(friendships) / FRIENDSHIPS_PER_INSERT)):
                Friendship.objects.bulk_create(batch)
        self.stdout.write(f"{len(nodes)} members ({len(new_users)} new), {len(pairs)} friendships "
                          f"({len(friendships)} new)")
        if not options["no_rebuild"]:
            call_command("contagion_rebuild", stdout=self.stdout)
