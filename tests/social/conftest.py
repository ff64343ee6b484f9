"""The cast's friend graph, built through the services: alice and bob are friends, carol is
bob's friend only, mallory is a stranger."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.members.models import User
from social.graph import services
from social.graph.models import Friendship
from social.graph.signals import friendship_ended, friendship_started


def befriend(first: User, second: User) -> Friendship:
    """Make two members friends the way members do: a request, then an accept."""
    sent = services.friend_request_send(from_user=first, to_username=second.username)
    return services.friend_request_accept(request=sent.request, by=second)


@dataclass
class World:
    alice: User
    bob: User
    carol: User
    mallory: User
    alice_bob: Friendship
    bob_carol: Friendship


@pytest.fixture
def world(alice, bob, carol, mallory) -> World:  # type: ignore[no-untyped-def]
    return World(alice, bob, carol, mallory, befriend(alice, bob), befriend(bob, carol))


@pytest.fixture
def signals_log():  # type: ignore[no-untyped-def]
    """Every friendship_started / friendship_ended sent, as (name, kwargs) in order."""
    log: list[tuple[str, dict]] = []

    def on_started(sender, **kwargs):  # type: ignore[no-untyped-def]
        log.append(("started", {k: v for k, v in kwargs.items() if k != "signal"}))

    def on_ended(sender, **kwargs):  # type: ignore[no-untyped-def]
        log.append(("ended", {k: v for k, v in kwargs.items() if k != "signal"}))

    friendship_started.connect(on_started, weak=False, dispatch_uid="test-started")
    friendship_ended.connect(on_ended, weak=False, dispatch_uid="test-ended")
    yield log
    friendship_started.disconnect(dispatch_uid="test-started")
    friendship_ended.disconnect(dispatch_uid="test-ended")
