"""Rebuild checks: what moderation leaves equals what a rebuild computes."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from scoring.contagion import services
from scoring.contagion.services import PARAMS
from tests.scoring.contagion.test_contagion_db import assert_matches_exact_solve


def assert_rebuild_clean() -> None:
    """``rescore --all --dry-run`` finds 0 differences, the contagion state matches an exact solve,
    and ``contagion_rebuild`` moves s by at most the engine's bound."""
    out = StringIO()
    call_command("rescore", "--all", "--dry-run", stdout=out)
    assert "; 0 differed from the stored score." in out.getvalue(), out.getvalue()
    assert_matches_exact_solve()
    result = services.contagion_rebuild()
    assert result["largest_gap"] <= PARAMS.error_bound
