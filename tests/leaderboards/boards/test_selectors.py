"""leaderboards.boards.selectors: who a rise passed on the friends board (``friends_passed``)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.members.models import User
from leaderboards.boards import selectors
from social.graph.models import Friendship
from tests.leaderboards.conftest import befriend, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast_of_friends() -> dict[str, User]:
    """bob and cy are the risers. bob's friends: ann 700, dee 705, eve 700 (private mode),
    fin 700 (frozen), gus 700 (former friend), hal 720 (out of reach); ann is cy's friend too.
    ivy (700) is nobody's friend."""
    people = {name: member(name, score) for name, score in [
        ("bob", 712), ("cy", 702), ("ann", 700), ("dee", 705), ("eve", 700), ("fin", 700), ("gus", 700),
        ("hal", 720), ("ivy", 700)]}
    for name in ("ann", "dee", "eve", "fin", "gus", "hal"):
        befriend(people["bob"], people[name])
    befriend(people["cy"], people["ann"])
    User.objects.filter(username="eve").update(private_mode=True)
    User.objects.filter(username="fin").update(is_frozen=True)
    Friendship.objects.filter(member_b=people["gus"]).update(ended_at=timezone.now())
    return people


def test_a_rise_passes_the_listed_friends_within_its_range_only(cast_of_friends):
    p = cast_of_friends
    rises = [(p["cy"].pk, 695, 702), (p["bob"].pk, 690, 712)]
    assert selectors.friends_passed(rises) == sorted([
        (p["bob"].pk, p["ann"].pk, 700), (p["bob"].pk, p["dee"].pk, 705), (p["cy"].pk, p["ann"].pk, 700)])


def test_the_range_is_half_open_and_works_in_chunks(cast_of_friends, monkeypatch):
    p = cast_of_friends
    monkeypatch.setattr(selectors, "PASSED_CHUNK", 1)
    # bob from 705: dee (705) was level and is now below; ann (700) was below already.
    assert selectors.friends_passed([(p["bob"].pk, 705, 712), (p["cy"].pk, 700, 701)]) == [
        (p["bob"].pk, p["dee"].pk, 705), (p["cy"].pk, p["ann"].pk, 700)]
    assert selectors.friends_passed([(p["cy"].pk, 701, 702)]) == []
    assert selectors.friends_passed([]) == []


def test_a_riser_on_either_side_of_the_friendship_is_found(cast_of_friends):
    p = cast_of_friends
    # ann was created after bob and cy, so she is their friendships' member_b. Rising from 690 to
    # 710 she passed cy (702), not bob (712).
    assert selectors.friends_passed([(p["ann"].pk, 690, 710)]) == [(p["ann"].pk, p["cy"].pk, 702)]
