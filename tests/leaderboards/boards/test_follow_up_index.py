"""The ledger's follow-up sweeper repairs the Redis index too (``tests/scoring/ledger/test_follow_up.py``
simulates the crash): a score change whose board update was lost, or failed on Redis, is written
again by the sweeper — no rebuild. Marked ``services``: needs REDIS_URL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis

from leaderboards.boards import check as boards
from leaderboards.boards import index
from leaderboards.boards import services as board_services
from scoring.contagion import backlog
from scoring.contagion import services as contagion
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create
from scoring.ledger import services
from scoring.ledger.models import FollowUp
from scoring.ledger.tasks import sweep_follow_ups
from tests.scoring.ledger.test_follow_up import _age_marks, _killed_after_commit, build_world
from tests.scoring.ledger.test_pipeline import make_event

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture
def acme(db) -> Partner:  # type: ignore[no-untyped-def]
    partner_create(name="Acme Bank", slug="acme")
    return Partner.objects.get(slug="acme")


@pytest.fixture
def world(alice, bob, carol, acme, settings, monkeypatch,  # type: ignore[no-untyped-def]
          django_capture_on_commit_callbacks):
    settings.CONTAGION_VESTING = timedelta(0)
    # Services mode queues contagion's backlog in Redis: a key of this test's own, not one that
    # a test running beside it on another database fills with its members.
    monkeypatch.setattr(backlog, "KEY", f"credo-test:contagion:{uuid.uuid4().hex}")
    return build_world(alice, bob, carol, acme, django_capture_on_commit_callbacks)


def test_the_sweeper_repairs_the_redis_index_too(world, acme, redis_index, django_capture_on_commit_callbacks):
    alice, *_ = world
    board_services.index_rebuild()
    assert not boards.boards_check(recheck_seconds=0).differs
    for n in range(1, 4):
        make_event(alice, acme, n, missed=True)
    _killed_after_commit(django_capture_on_commit_callbacks, [alice.pk])
    stale = boards.boards_check(recheck_seconds=0)
    assert stale.differences["all"] >= 1 and stale.differences["cards"] >= 1 and stale.largest_gap > 10
    _age_marks()
    with django_capture_on_commit_callbacks(execute=True):
        sweep_follow_ups()
    assert not boards.boards_check(recheck_seconds=0).differs
    assert not contagion.contagion_check()["differs"]


def test_a_failed_index_write_keeps_the_change_marked_until_redis_answers(
        world, acme, redis_index, monkeypatch, django_capture_on_commit_callbacks):
    alice, *_ = world
    board_services.index_rebuild()
    make_event(alice, acme, 1, missed=True)

    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise redis.ConnectionError("Redis is restarting")

    with monkeypatch.context() as patch:
        patch.setattr(index, "apply", down)
        with django_capture_on_commit_callbacks(execute=True):
            services.members_score_pending(member_ids=[alice.pk])
    assert FollowUp.objects.filter(member=alice, kind="score").exists()  # the boards did not follow
    assert boards.boards_check(recheck_seconds=0).differs
    _age_marks()
    with django_capture_on_commit_callbacks(execute=True):
        sweep_follow_ups()
    assert not FollowUp.objects.exists()
    assert not boards.boards_check(recheck_seconds=0).differs
