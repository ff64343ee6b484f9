"""Edge sync is idempotent: tasks racing for the same friendship change cannot both act.

Each ``contagion_edges_sync`` applies the difference between the stored edge set and the truth
(the social graph). Two tasks for one change used to compute the same difference and both apply
it: the second raised ``ValueError("… already linked")`` / ``("… are not linked")``, was not
retried, and the points it should have written stayed stale. Real threads on PostgreSQL, made to
meet right where they apply the change.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from celery._state import _set_task_join_will_block
from django.db import connection

from scoring.contagion import services as contagion
from scoring.contagion.db_store import DbStore
from scoring.contagion.engine import social_points
from scoring.contagion.models import ContagionEdge, ContagionNode
from scoring.contagion.services import PARAMS, SOCIAL_WRITE_STEP
from scoring.ledger import services as ledger
from scoring.ledger.models import ScoreState
from scoring.model import total_score
from social.graph import services as social
from social.graph.models import Friendship
from social.graph.selectors import friendships_active_for_contagion
from tests.factories import UserFactory
from tests.scoring.contagion.test_contagion_db import exact_s

pytestmark = [pytest.mark.django_db(transaction=True)]

#: Friends of the hub.
SPOKES = 12


@pytest.fixture
def hub(settings):  # type: ignore[no-untyped-def]
    settings.CONTAGION_VESTING = timedelta(0)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    hub = UserFactory(username="hub")
    spokes = [UserFactory(username=f"spoke{i}") for i in range(SPOKES)]
    for member in (hub, *spokes):
        ledger.member_state_ensure(member=member)
    # Bases far from neutral, so that every friendship moves somebody's points.
    for i, member in enumerate(spokes):
        ScoreState.objects.filter(member=member).update(base=560.0 + 15 * i)
    ScoreState.objects.filter(member=hub).update(base=840.0)
    contagion.contagion_rebuild()
    return hub, spokes


def _meet_in_change_edge(monkeypatch, parties: int) -> threading.Barrier:  # type: ignore[no-untyped-def]
    """Make the racing tasks wait for each other where they apply an edge (a real race would need
    luck to land there)."""
    barrier = threading.Barrier(parties)
    original = DbStore.change_edge

    def change_edge(self, u, v, *, add, fold):  # type: ignore[no-untyped-def]
        with contextlib.suppress(threading.BrokenBarrierError):  # the other found nothing to do: never here
            barrier.wait(timeout=2)
        return original(self, u, v, add=add, fold=fold)

    monkeypatch.setattr(DbStore, "change_edge", change_edge)
    return barrier


def run_in_threads(*calls):  # type: ignore[no-untyped-def]
    """Each call in a thread of its own (its own connection); their results, or the exceptions raised."""
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # returned for the test to read
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _set_task_join_will_block(False)  # eager tasks in threads race on Celery's process-wide flag
    return results


def _assert_in_step() -> None:
    truth = set(friendships_active_for_contagion().values_list("member_a_id", "member_b_id"))
    assert set(ContagionEdge.objects.values_list("member_a_id", "member_b_id")) == truth
    degrees = dict(ContagionNode.objects.values_list("member_id", "deg"))
    for member_id, deg in degrees.items():
        assert deg == sum(1 for pair in truth if member_id in pair), member_id
    exact = exact_s()
    stored = dict(ContagionNode.objects.values_list("member_id", "s"))
    for member_id, s in exact.items():
        assert abs(stored[member_id] - s) <= PARAMS.error_bound, member_id
    for state in ScoreState.objects.all():
        assert abs(state.social - social_points(stored[state.member_id], PARAMS)) < SOCIAL_WRITE_STEP
        assert state.score == total_score(state.base, state.social)


@pytest.fixture
def quietly(monkeypatch):  # type: ignore[no-untyped-def]
    """Friendship changes whose own edge-sync task is not sent: the syncs under test are the ones
    that race for them."""
    from contextlib import contextmanager

    @contextmanager
    def block():  # type: ignore[no-untyped-def]
        with monkeypatch.context() as patch:
            patch.setattr("scoring.contagion.receivers.enqueue_on_commit", lambda *args, **kwargs: None)
            yield

    return block


def _befriend(a, b) -> None:  # type: ignore[no-untyped-def]
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    social.friend_request_accept(request=sent.request, by=b)


def test_two_syncs_of_one_new_friendship_apply_it_once(hub, monkeypatch, quietly):
    center, spokes = hub
    with quietly():
        _befriend(center, spokes[0])
    _meet_in_change_edge(monkeypatch, 2)
    results = run_in_threads(lambda: contagion.contagion_edges_sync(members=[center.pk, spokes[0].pk]),
                        lambda: contagion.contagion_edges_sync(members=[center.pk, spokes[0].pk]))
    assert not [r for r in results if isinstance(r, Exception)], results
    _assert_in_step()


def test_two_syncs_of_one_ended_friendship_remove_it_once(hub, monkeypatch, quietly):
    center, spokes = hub
    _befriend(center, spokes[1])
    assert ContagionEdge.objects.count() == 1
    with quietly():
        social.friendship_unfriend(member=center, username=spokes[1].username)
    _meet_in_change_edge(monkeypatch, 2)
    results = run_in_threads(lambda: contagion.contagion_edges_sync(members=[center.pk]),
                        lambda: contagion.contagion_edges_sync(members=[spokes[1].pk, center.pk]))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert ContagionEdge.objects.count() == 0
    _assert_in_step()


def test_a_hub_churning_while_many_syncs_race_ends_in_step(hub, quietly):
    """Friendship churn on a hub, each change followed by three concurrent syncs of the hub."""
    center, spokes = hub
    for spoke in [*spokes[:6], *spokes[:3]]:
        with quietly():
            if Friendship.objects.between(center.pk, spoke.pk).active().exists():
                social.friendship_unfriend(member=center, username=spoke.username)
            else:
                _befriend(center, spoke)
        results = run_in_threads(*[lambda: contagion.contagion_edges_sync(members=[center.pk])] * 3)
        assert not [r for r in results if isinstance(r, Exception)], results
    _assert_in_step()
