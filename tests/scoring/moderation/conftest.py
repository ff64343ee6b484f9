"""The cast for moderation: alice–bob and bob–carol are friends (vested at once), mallory is a
stranger, everyone is scored; alice has payment events from Acme Bank; ``mod`` is a moderator
(the Moderators group, not staff, not superuser)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from accounts.members.models import User
from accounts.members.moderators import MODERATORS_GROUP
from scoring.ingestion.models import Event
from scoring.ledger import services
from social.graph import services as social
from social.graph.models import Friendship
from tests.factories import UserFactory
from tests.scoring.conftest import acme, acme_key  # noqa: F401  (fixtures)
from tests.scoring.ledger.test_pipeline import make_event


@pytest.fixture(autouse=True)
def _vest_at_once(settings):  # type: ignore[no-untyped-def]
    settings.CONTAGION_VESTING = timedelta(0)


def befriend(a: User, b: User) -> Friendship:
    sent = social.friend_request_send(from_user=a, to_username=b.username)
    return social.friend_request_accept(request=sent.request, by=b)


@dataclass
class World:
    alice: User
    bob: User
    carol: User
    mallory: User
    missed: list[Event]
    on_time: list[Event]


@pytest.fixture
def run(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """``run(fn, **kwargs)``: call a service and run what it left for after commit."""

    def call(fn, /, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


@pytest.fixture
def world(alice, bob, carol, mallory, acme, run) -> World:  # type: ignore[no-untyped-def]  # noqa: F811
    for member in (alice, bob, carol, mallory):
        run(services.member_state_ensure, member=member)
    run(befriend, a=alice, b=bob)
    run(befriend, a=bob, b=carol)
    missed = [make_event(alice, acme, n, missed=True) for n in range(3)]
    on_time = [make_event(alice, acme, n) for n in range(3, 6)]
    run(services.member_score_pending, member_id=alice.pk)
    for m in (alice, bob, carol, mallory):
        m.refresh_from_db()
    return World(alice, bob, carol, mallory, missed, on_time)


@pytest.fixture
def moderator(db) -> User:  # type: ignore[no-untyped-def]
    mod = UserFactory(username="mod")
    mod.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return mod


@pytest.fixture
def mod_client(client, moderator):  # type: ignore[no-untyped-def]
    client.force_login(moderator)
    return client


@pytest.fixture
def member_client(alice):  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()
    client.force_login(alice)
    return client
