"""``leaderboards_rebuild --check``: every board entry against the database, changing nothing;
a non-zero exit when anything differs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.members.models import User
from leaderboards.boards import check, index, services
from leaderboards.boards.models import SeasonEntry
from leaderboards.boards.ranking import member_key
from tests.leaderboards.conftest import member, scored

pytestmark = pytest.mark.django_db


def run_check() -> str:
    out = StringIO()
    call_command("leaderboards_rebuild", "--check", stdout=out)
    return out.getvalue()


def test_embedded_mode_checks_this_weeks_entries():
    alice = member("alice", 600)
    scored(alice, 640)
    assert "0 differ" in run_check()
    # A lost follow-up: the entry is behind the member's score.
    SeasonEntry.objects.filter(member=alice).update(points=3)
    found = check.boards_check(recheck_seconds=0)
    assert found.differences["weekly_entries"] == 1 and found.largest_gap == 37 and found.index_ready is None
    with pytest.raises(CommandError, match="1 board entry differs"):
        run_check()


@pytest.mark.services
def test_the_index_is_compared_entry_by_entry_and_nothing_is_changed(redis_index):
    alice, bob = member("alice", 700), member("bob", 650)
    scored(bob, 660)
    assert not check.boards_check(recheck_seconds=0).differs
    r = index.client()
    k = index.keys()
    # What a lost update leaves: bob's old place, a member the index never heard of.
    r.zadd(k.all, {member_key(bob.pk): float(r.zscore(k.global_, member_key(bob.pk))) - 10 * 10**12})
    carol = member("carol", 610)
    r.zrem(k.all, member_key(carol.pk))
    r.zrem(k.global_, member_key(carol.pk))
    before = {key: r.zrange(key, 0, -1, withscores=True) for key in (k.all, k.global_)}
    found = check.boards_check(recheck_seconds=0)
    assert found.differences["all"] == 2 and found.differences["global"] == 1 and found.largest_gap == 10
    with pytest.raises(CommandError, match="differ from the database"):
        run_check()
    assert {key: r.zrange(key, 0, -1, withscores=True) for key in (k.all, k.global_)} == before  # untouched
    services.index_rebuild()
    assert "0 differ" in run_check()
    assert User.objects.get(pk=alice.pk).score == 700


@pytest.mark.services
def test_an_index_that_lost_its_data_differs(redis_index):
    member("alice", 700)
    index.drop_all()
    found = check.boards_check(recheck_seconds=0)
    assert found.index_ready is False and found.differs


@pytest.mark.services
def test_the_nightly_reconcile_logs_the_figures_and_heals(redis_index, caplog):
    from django.core.cache import cache

    from leaderboards.boards.tasks import RECONCILE_FIGURES, index_reconcile

    alice = member("alice", 700)
    index.client().zrem(index.keys().all, member_key(alice.pk))
    figures = index_reconcile()
    assert figures["board_differences"] >= 1 and cache.get(RECONCILE_FIGURES)["board_differences"] >= 1
    assert any("boards reconcile: compared=" in record.getMessage() for record in caplog.records)
    assert not check.boards_check(recheck_seconds=0).differs
