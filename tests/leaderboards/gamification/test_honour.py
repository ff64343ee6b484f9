"""The board of honour (``/members/<username>/``, ``GET /api/v1/members/<username>/``): who may
see it, and what each viewer sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.members.models import User
from leaderboards.gamification.badges import badge_award
from social.graph.models import Block
from tests.factories import UserFactory
from tests.leaderboards.conftest import befriend, member

NOT_FOUND = {"code": "not_found", "detail": "Not found."}


@pytest.fixture
def cast(db):  # type: ignore[no-untyped-def]
    """alice (scored 712, one badge) and bob are friends; mallory is a stranger."""
    alice = member("alice", 712)
    bob = member("bob", 640)
    mallory = member("mallory", 600)
    befriend(alice, bob)
    User.objects.filter(pk=alice.pk).update(date_joined=datetime(2025, 3, 14, 9, 0, tzinfo=UTC))
    badge_award(member_id=alice.pk, badge="first_friend", explanation="Awarded for your first friend, bob.")
    return alice, bob, mallory


def honour_api(client, username: str):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/members/{username}/")


def test_a_friend_sees_everything_including_the_score(cast, api_as) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = cast
    body = honour_api(api_as(bob), "alice").json()
    assert body["username"] == "alice"
    assert (body["is_me"], body["is_friend"], body["score"], body["band"]) == (False, True, 712, "Excellent")
    assert body["member_since"] == "2025-03-14"
    assert body["streak"] == {"current_months": 0, "best_months": 0}
    assert [b["badge"] for b in body["badges"]] == ["first_friend"]
    # Others see what the badge is for, never the award's own text (it names bob).
    # The words are about her, as on the web page ("You made…" is for alice alone).
    assert body["badges"][0]["explanation"] == "Made a first friend on Credo."
    assert "bob" not in json.dumps(body["badges"])


def test_a_stranger_gets_404_for_a_friends_only_profile(cast, api_as) -> None:  # type: ignore[no-untyped-def]
    _, _, mallory = cast
    response = honour_api(api_as(mallory), "alice")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert honour_api(api_as(mallory), "nobody-at-all").json() == NOT_FOUND  # same answer
    assert Client().get("/members/alice/").status_code == 404


def test_a_public_profile_shows_the_band_but_never_the_score_to_strangers(cast, api, api_as) -> None:  # type: ignore[no-untyped-def]
    alice, _, mallory = cast
    User.objects.filter(pk=alice.pk).update(profile_visibility=User.Visibility.PUBLIC)
    for client in (api, api_as(mallory)):
        body = honour_api(client, "alice").json()
        assert (body["score"], body["band"], body["is_friend"]) == (None, "Excellent", False)
    page = Client().get("/members/alice/")
    assert page.status_code == 200
    assert b"Excellent" in page.content and b"712" not in page.content
    assert b"Member since March 2025" in page.content


@pytest.mark.parametrize("hide", ["private_mode", "is_frozen", "block", "block_by_her"])
def test_hidden_profiles_answer_404_to_everyone_else(cast, api_as, hide) -> None:  # type: ignore[no-untyped-def]
    alice, bob, _ = cast
    User.objects.filter(pk=alice.pk).update(profile_visibility=User.Visibility.PUBLIC)
    if hide in ("private_mode", "is_frozen"):
        User.objects.filter(pk=alice.pk).update(**{hide: True})
    elif hide == "block":
        Block.objects.create(blocker=bob, blocked=alice)
    else:
        Block.objects.create(blocker=alice, blocked=bob)
    assert honour_api(api_as(bob), "alice").status_code == 404
    assert honour_api(api_as(alice), "alice").json()["is_me"] is True  # she still sees her own


def test_my_own_page_tells_me_who_can_see_it(cast) -> None:  # type: ignore[no-untyped-def]
    alice, _, _ = cast
    client = Client()
    client.force_login(alice)
    page = client.get("/members/alice/")
    assert page.status_code == 200
    assert b"Only your friends can see this page." in page.content
    assert b"712" in page.content
    assert b"Awarded for your first friend, bob." in page.content  # her own explanation


def test_inactive_members_do_not_exist(cast, api_as) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = cast
    gone = UserFactory(username="gone", is_active=False, profile_visibility=User.Visibility.PUBLIC)
    assert gone.pk
    assert honour_api(api_as(bob), "gone").status_code == 404
