"""Friend contagion's state: each member's row (d, s, r), the friendships it applies, and the
version of that graph."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ContagionNode(models.Model):
    """A member's row in the friend-contagion engine (DESIGN.md §3), in deviation points.

    ``d`` = base − the neutral base (``ScoringParams.contagion_neutral_base``) as folded in, ``s``
    the social signal, ``r`` the residual with the invariant r = αP(d + s) − s, ``deg`` the
    member's active contagion friendships, ``version`` bumped on every friendship change and
    every base change (optimistic concurrency, see ``scoring.contagion.engine``). Derived state:
    ``manage.py contagion_rebuild`` recomputes it.
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="contagion"
    )
    d = models.FloatField(default=0.0)
    s = models.FloatField(default=0.0)
    r = models.FloatField(default=0.0)
    deg = models.IntegerField(default=0)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.member_id}: s={self.s:.3f} r={self.r:.3f}"


class ContagionEdge(models.Model):
    """A friendship folded into the contagion state (``member_a`` < ``member_b``).

    The social app's friendships are the truth; this table is what the engine has applied, and
    ``contagion_edges_sync`` moves it towards
    ``social.graph.selectors.friendships_active_for_contagion``.
    """

    member_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    member_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member_a", "member_b"], name="one_contagion_edge_per_pair"),
            models.CheckConstraint(condition=Q(member_a__lt=models.F("member_b")), name="contagion_edge_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.member_a_id}–{self.member_b_id}"


class ContagionGraph(models.Model):
    """One row whose ``version`` changes whenever ``ContagionEdge`` changes, in the same transaction.

    On PostgreSQL a statement trigger on the edge table sets it from a sequence (migration 0005),
    so every writer is covered — the engine, the rebuild, a cascade from a deleted member — and a
    value is never reused, not even after a rollback. A worker keys its in-memory adjacency on it
    (``scoring.contagion.db_store.DbStore.snapshot``). SQLite has no trigger and no such cache.
    """

    version = models.BigIntegerField(default=0)
    # ``contagion_tick`` has applied every friendship that vested up to here; None: not yet
    # (the next tick compares the whole graph).
    vested_through = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"contagion graph v{self.version}"

