"""Services mode: contagion tasks take the whole backlog of moved bases as one batch
(``scoring.contagion.backlog``), and each still folds in its own members."""

from __future__ import annotations

import pytest
import redis as redis_lib

from scoring.contagion import backlog as contagion_backlog
from scoring.contagion import services, tasks
from scoring.ingestion import dirty
from scoring.ledger.signals import bases_changed

pytestmark = pytest.mark.services


@pytest.fixture
def backlog(settings, redis_url):  # type: ignore[no-untyped-def]
    settings.SERVICES_MODE = True
    settings.REDIS_URL = redis_url
    dirty._client = None
    raw = redis_lib.Redis.from_url(redis_url)
    raw.delete(contagion_backlog.KEY)
    yield raw
    raw.delete(contagion_backlog.KEY)
    dirty._client = None


@pytest.fixture
def folded(monkeypatch) -> list[list[int]]:
    """The members each task handed to the contagion engine."""
    calls: list[list[int]] = []

    def record(*, member_ids: list[int]) -> int:
        calls.append(list(member_ids))
        return 0

    monkeypatch.setattr(services, "contagion_bases_sync", record)
    return calls


@pytest.mark.django_db
def test_a_scoring_batch_queues_its_members_after_commit_and_enqueues_its_own_task(
        backlog, folded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bases_changed.send(sender=None, member_ids=[3, 1, 2])
    assert backlog.scard(contagion_backlog.KEY) == 0  # nothing before commit
    after_each: list[tuple[int, int]] = []  # (members in the set, tasks run) after each callback
    for callback in callbacks:
        callback()  # the task runs in-process here
        after_each.append((backlog.scard(contagion_backlog.KEY), len(folded)))
    # The mark came first (3 queued, no task yet), then the task, which took them back out.
    assert (3, 0) in after_each and after_each[-1] == (0, 1)
    assert after_each.index((3, 0)) < after_each.index((0, 1))
    assert folded == [[1, 2, 3]]


def test_the_first_task_takes_the_backlog_and_the_ones_behind_it_only_their_own(backlog, folded):
    contagion_backlog.members_mark([1, 2])  # three scoring batches whose tasks wait in the queue
    contagion_backlog.members_mark([3, 4])
    contagion_backlog.members_mark([5])
    tasks.contagion_bases_sync.apply(args=[[1, 2]], throw=True)
    tasks.contagion_bases_sync.apply(args=[[3, 4]], throw=True)
    tasks.contagion_bases_sync.apply(args=[[5]], throw=True)
    assert folded == [[1, 2, 3, 4, 5], [3, 4], [5]]  # the later ones: already folded in, nothing to do
    assert backlog.scard(contagion_backlog.KEY) == 0


def test_a_batch_takes_at_most_contagion_batch_members(backlog, folded, monkeypatch):
    monkeypatch.setattr(contagion_backlog, "BATCH", 3)
    contagion_backlog.members_mark(range(1, 8))
    tasks.contagion_bases_sync.apply(args=[[9]], throw=True)
    assert len(folded[0]) == 4 and 9 in folded[0]
    assert backlog.scard(contagion_backlog.KEY) == 4


def test_redis_down_folds_in_the_tasks_own_members(settings, folded):
    settings.SERVICES_MODE = True
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused
    dirty._client = None
    try:
        contagion_backlog.members_mark([1, 2])  # logged, not raised
        tasks.contagion_bases_sync.apply(args=[[2, 1]], throw=True)
    finally:
        dirty._client = None
    assert folded == [[1, 2]]
