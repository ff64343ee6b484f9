"""REST: GET leaderboards/{board}/ and POST ws-ticket/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leaderboards.sockets.tickets import ticket_consume
from tests.leaderboards.conftest import befriend, member

WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def cast(db):  # type: ignore[no-untyped-def]
    with time_machine.travel(WEDNESDAY, tick=False):
        alice = member("alice", 700)
        bob = member("bob", 650, at=WEDNESDAY + timedelta(seconds=1))
        carol = member("carol", 650, at=WEDNESDAY + timedelta(seconds=2), global_board=False)
        mallory = member("mallory", 900, private_mode=True)
        befriend(alice, bob)
        befriend(bob, carol)
        befriend(alice, mallory)
        yield {"alice": alice, "bob": bob, "carol": carol, "mallory": mallory}


def test_global_board_shape(cast, api_as):
    response = api_as(cast["bob"]).get("/api/v1/leaderboards/global/")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "board": "global", "seq": body["seq"], "next": None, "total": 2, "my_rank": 2, "my_score": 650,
        "percentile": 0.0,
        "entries": [
            {"rank": 1, "username": "alice", "score": 700, "band": "Excellent", "is_me": False},
            {"rank": 2, "username": "bob", "score": 650, "band": "Very good", "is_me": True},
        ],
    }
    assert isinstance(body["seq"], int)


def test_friends_board_leaves_out_private_friends_and_strangers(cast, api_as):
    body = api_as(cast["alice"]).get("/api/v1/leaderboards/friends/").json()
    assert [(e["rank"], e["username"], e["score"]) for e in body["entries"]] == [(1, "alice", 700), (2, "bob", 650)]
    body = api_as(cast["bob"]).get("/api/v1/leaderboards/friends/?limit=2").json()
    assert [e["username"] for e in body["entries"]] == ["alice", "bob"]
    assert body["next"] is not None
    body = api_as(cast["bob"]).get(f"/api/v1/leaderboards/friends/?limit=2&cursor={body['next']}").json()
    assert [(e["rank"], e["username"]) for e in body["entries"]] == [(2, "carol")]


def test_weekly_board_carries_its_season(cast, api_as):
    with time_machine.travel(WEDNESDAY, tick=False):
        body = api_as(cast["alice"]).get("/api/v1/leaderboards/weekly/").json()
    assert body["season"]["starts_at"] == "2026-11-23T00:00:00+00:00"
    assert body["season"]["ends_at"] == "2026-11-30T00:00:00+00:00"
    assert body["season"]["time_left"] == 4 * 86_400 + 12 * 3600
    assert body["season"]["closed"] is False


@pytest.mark.parametrize(("query", "code"), [
    ("?limit=0", "min_value"), ("?limit=101", "max_value"), ("?limit=ten", "invalid"),
    ("?around=you", "invalid_choice"), ("?cursor=%21%21", "invalid_cursor"), ("?colour=red", "unknown_field"),
    ("?around=me&cursor=abc", "invalid"), ("?season=1", "invalid"),
])
def test_bad_parameters_are_400_with_a_code(cast, api_as, query, code):
    response = api_as(cast["alice"]).get(f"/api/v1/leaderboards/global/{query}")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]


def test_unknown_board_and_season_are_404(cast, api_as):
    client = api_as(cast["alice"])
    response = client.get("/api/v1/leaderboards/galactic/")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_board")
    response = client.get("/api/v1/leaderboards/weekly/?season=999")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_season")


def test_boards_need_a_member(api, db):
    response = api.get("/api/v1/leaderboards/global/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_ws_ticket_is_single_use_and_expires(cast, api_as):
    client = api_as(cast["alice"])
    response = client.post("/api/v1/ws-ticket/")
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert response.json()["expires_in"] == 60
    grant = ticket_consume(ticket)
    assert grant is not None and grant.member == cast["alice"] and grant.token_key
    assert ticket_consume(ticket) is None  # single use
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        late = client.post("/api/v1/ws-ticket/").json()["ticket"]
        traveller.shift(61)
        assert ticket_consume(late) is None
    assert ticket_consume("made-up") is None


def test_the_page_is_in_the_navigation(cast, client):
    client.force_login(cast["alice"])
    response = client.get("/leaderboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/leaderboard/"' in html
    assert "data-board=\"friends\"" in html
    assert "js/leaderboard.js" in html
