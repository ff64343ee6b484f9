"""Web pages of gamification: picking challenge opponents by search, and the board of honour's
wording for its owner and for another member."""

from __future__ import annotations

import pytest
from django.test import Client

from leaderboards.gamification.badges import badges_evaluate
from leaderboards.gamification.models import Challenge
from tests.leaderboards.conftest import befriend, member

pytestmark = pytest.mark.django_db


def _web(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def popular(db):  # type: ignore[no-untyped-def]
    alice = member("alice", 700)
    friends = [member(f"pal{n:02d}", 650) for n in range(12)]
    for friend in friends:
        befriend(alice, friend)
    return alice


def test_many_friends_are_picked_by_typing_not_from_a_list(popular):
    html = _web(popular).get("/challenges/").content.decode()
    assert 'type="checkbox"' not in html
    assert html.count('name="opponents"') == 5
    assert '<input type="text" id="opponent-1" name="opponents" value="" list="challenge-friends"' in html
    assert html.count('<option value="pal') == 12


def test_typed_usernames_send_the_challenge_and_blank_boxes_are_ignored(popular, django_user_model):
    pal03, pal07 = django_user_model.objects.get(username="pal03"), django_user_model.objects.get(username="pal07")
    befriend(pal03, pal07)  # opponents challenged together must be friends with each other
    response = _web(popular).post("/challenges/", {"opponents": ["pal03", " pal07 ", "", "", ""]})
    assert (response.status_code, response["Location"]) == (302, "/challenges/")
    challenge = Challenge.objects.get()
    assert sorted(challenge.participants.exclude(member=popular).values_list("member__username", flat=True)) == [
        "pal03", "pal07"]


def test_a_wrong_username_is_an_error_tied_to_the_boxes_and_keeps_what_was_typed(popular):
    response = _web(popular).post("/challenges/", {"opponents": ["pal03", "stranger", "", "", ""]})
    assert response.status_code == 400
    html = response.content.decode()
    assert ('<div class="msg error" id="opponents-error" role="alert">Select a valid choice. stranger is not one '
            'of the available choices.</div>') in html
    assert 'name="opponents" value="stranger" list="challenge-friends"' in html
    assert 'aria-invalid="true" aria-describedby="opponents-error"' in html
    empty = _web(popular).post("/challenges/", {"opponents": ["", "", "", "", ""]})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    assert Challenge.objects.count() == 0


# --- the board of honour ---------------------------------------------------------------------------


@pytest.fixture
def friends_with_badges(db):  # type: ignore[no-untyped-def]
    alice, bob = member("alice", 700), member("bob", 660)
    befriend(alice, bob)
    badges_evaluate(member_id=alice.pk)
    return alice, bob


def test_another_members_badges_speak_about_them(friends_with_badges):
    _, bob = friends_with_badges
    html = _web(bob).get("/members/alice/").content.decode()
    assert "You made your first friend" not in html and "Your score reached" not in html
    assert "Made a first friend on Credo." in html
    assert "Their score reached the Excellent band (700 and above)." in html


def test_my_own_board_keeps_my_explanations(friends_with_badges):
    alice, _ = friends_with_badges
    html = _web(alice).get("/members/alice/").content.decode()
    assert "Awarded for your first friend: bob" in html


def test_an_unknown_or_hidden_member_gets_the_sites_404_page(friends_with_badges, settings):
    settings.DEBUG = True  # as under make run: still the friendly page, not Django's technical one
    alice, bob = friends_with_badges
    response = _web(bob).get("/members/nobody/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()
    type(alice).objects.filter(pk=alice.pk).update(private_mode=True)
    assert "<h1>Page not found</h1>" in _web(bob).get("/members/alice/").content.decode()


def test_declining_and_cancelling_a_challenge_ask_first(popular, django_user_model):
    from leaderboards.gamification import challenges

    pal = django_user_model.objects.get(username="pal01")
    challenge = challenges.challenge_create(by=popular, opponents=[pal])
    mine = _web(popular).get("/challenges/").content.decode()
    assert ('<details class="confirm-inline"><summary class="button ghost">Cancel challenge…</summary>\n'
            f'      <form method="post" action="/challenges/{challenge.pk}/cancel/"') in mine
    theirs = _web(pal).get("/challenges/").content.decode()
    assert ('<details class="confirm-inline"><summary class="button ghost">Decline…</summary>\n'
            f'        <form method="post" action="/challenges/{challenge.pk}/decline/"') in theirs
    assert "Yes, decline alice's challenge" in theirs
