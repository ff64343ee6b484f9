"""``contagion_rebuild --dry-run`` measures what members are shown against an exact solve of the
truth and changes nothing; the rebuild reports the same figures (displayed points, not only the
engine's signal)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scoring.contagion import services
from scoring.contagion.models import ContagionEdge, ContagionNode
from scoring.ledger import services as ledger
from scoring.ledger.models import ScoreState
from tests.scoring.contagion.test_contagion_db import befriend

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alice, bob, carol, mallory, settings, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """alice–bob–carol friends, mallory a stranger, everyone scored and in step."""
    settings.CONTAGION_VESTING = timedelta(0)
    with django_capture_on_commit_callbacks(execute=True):
        for member in (alice, bob, carol, mallory):
            ledger.member_state_ensure(member=member)
        befriend(alice, bob)
        befriend(bob, carol)
    return alice, bob, carol, mallory


def dry_run() -> str:
    out = StringIO()
    call_command("contagion_rebuild", "--dry-run", stdout=out)
    return out.getvalue()


def snapshot() -> tuple[list, list, list]:
    return (list(ContagionNode.objects.order_by("pk").values_list()),
            list(ContagionEdge.objects.order_by("pk").values_list()),
            list(ScoreState.objects.order_by("pk").values_list("member_id", "social", "score")))


def test_a_sound_state_passes(world):
    out = dry_run()
    assert "0 missing and 0 extra" in out and "0 displayed score(s) differ" in out


def test_stale_points_fail_the_dry_run_and_change_nothing(world):
    alice, bob, *_ = world
    # What a worker killed between its push and its points write leaves: s moved, points did not.
    ContagionNode.objects.filter(member=bob).update(s=ContagionNode.objects.get(member=bob).s + 40)
    ScoreState.objects.filter(member=alice).update(social=ScoreState.objects.get(member=alice).social + 2.5)
    before = snapshot()
    found = services.contagion_check()
    assert found["differs"] and 2.4 < found["largest_points_gap"] < 2.6
    assert found["largest_signal_gap"] >= 40 - services.PARAMS.error_bound
    with pytest.raises(CommandError):
        dry_run()
    assert snapshot() == before


def test_a_missing_friendship_and_an_unfolded_base_are_reported(world):
    alice, bob, *_ = world
    ContagionEdge.objects.filter(member_a_id=min(alice.pk, bob.pk), member_b_id=max(alice.pk, bob.pk)).delete()
    ScoreState.objects.filter(member=bob).update(base=ScoreState.objects.get(member=bob).base + 30)
    found = services.contagion_check()
    assert (found["edges_missing"], found["edges_extra"], found["bases_unfolded"]) == (1, 0, 1)


def test_the_rebuild_reports_the_displayed_gap_it_repaired(world, capsys):
    alice, *_ = world
    ScoreState.objects.filter(member=alice).update(social=ScoreState.objects.get(member=alice).social + 3)
    result = services.contagion_rebuild()
    assert 2.9 < result["largest_points_gap"] < 3.1
    call_command("contagion_rebuild")
    assert "(within the bound" in capsys.readouterr().out  # repaired: nothing left to report
    assert not services.contagion_check()["differs"]
