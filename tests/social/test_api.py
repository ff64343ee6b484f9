from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from rest_framework.test import APIClient

from social.graph import services
from social.graph.errors import SocialCode
from social.graph.models import Block, FriendRequest, Friendship
from tests.factories import UserFactory
from tests.social.conftest import befriend

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOT_FOUND = {"code": "not_found", "detail": "Not found."}


@pytest.fixture
def cast(alice, bob, carol, mallory):  # type: ignore[no-untyped-def]
    """The world, with known times: alice–bob at T0, bob–carol a day later."""
    with time_machine.travel(T0, tick=False):
        befriend(alice, bob)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        befriend(bob, carol)
    return alice, bob, carol, mallory


# --- friends -------------------------------------------------------------------------------------


def test_friends_list_with_score_band_since_and_vesting(cast, api_as):
    alice, bob, _carol, _ = cast
    alice.score, alice.score_band = 655, "Very good"
    alice.save()
    with time_machine.travel(T0 + timedelta(days=7, hours=1), tick=False):
        response = api_as(bob).get("/api/v1/friends/")
    assert response.status_code == 200
    assert response.json() == [
        {"username": "alice", "score": 655, "band": "Very good", "since": "2026-03-02T09:00:00Z",
         "vests_at": "2026-03-09T09:00:00Z", "vested": True, "private": False},
        {"username": "carol", "score": None, "band": None, "since": "2026-03-03T09:00:00Z",
         "vests_at": "2026-03-10T09:00:00Z", "vested": False, "private": False},
    ]


def test_friend_detail_and_unfriend(cast, api_as, signals_log, django_capture_on_commit_callbacks):
    alice, bob, _, _ = cast
    client = api_as(alice)
    assert client.get("/api/v1/friends/bob/").json()["username"] == "bob"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/v1/friends/bob/")
    assert response.status_code == 204
    assert client.get("/api/v1/friends/").json() == []
    assert api_as(bob).get("/api/v1/friends/").json()[0]["username"] == "carol"
    assert [(n, kw["reason"]) for n, kw in signals_log] == [("ended", "unfriended")]
    assert client.delete("/api/v1/friends/bob/").json() == NOT_FOUND


def test_suggestions(cast, api_as):
    alice = cast[0]
    assert api_as(alice).get("/api/v1/friends/suggestions/").json() == [
        {"username": "carol", "mutual_friends": 1}
    ]


def test_a_friend_named_suggestions_can_still_be_unfriended(cast, api_as):
    alice = cast[0]
    befriend(alice, UserFactory(username="suggestions"))
    assert api_as(alice).delete("/api/v1/friends/suggestions/").status_code == 204
    assert [f["username"] for f in api_as(alice).get("/api/v1/friends/").json()] == ["bob"]


# --- friend requests -----------------------------------------------------------------------------


def test_send_list_accept(cast, api_as):
    alice, _, carol, _ = cast
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        sent = api_as(alice).post("/api/v1/friend-requests/", {"to": "carol"}, format="json")
    assert sent.status_code == 201
    request_id = sent.json()["id"]
    assert sent.json() == {"id": request_id, "to": "carol", "status": "pending",
                           "created_at": "2026-03-04T09:00:00Z"}
    again = api_as(alice).post("/api/v1/friend-requests/", {"to": "carol"}, format="json")
    assert (again.status_code, again.json()) == (200, sent.json())
    assert api_as(carol).get("/api/v1/friend-requests/").json() == {
        "incoming": [{"id": request_id, "from": "alice", "created_at": "2026-03-04T09:00:00Z"}],
        "outgoing": [],
    }
    assert api_as(alice).get("/api/v1/friend-requests/").json() == {
        "incoming": [], "outgoing": [sent.json()],
    }
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        accepted = api_as(carol).post(f"/api/v1/friend-requests/{request_id}/accept/")
        # Accepting twice answers the same.
        again = api_as(carol).post(f"/api/v1/friend-requests/{request_id}/accept/")
    assert accepted.status_code == 200
    assert accepted.json() == {"username": "alice", "score": None, "band": None,
                               "since": "2026-03-05T09:00:00Z", "vests_at": "2026-03-12T09:00:00Z",
                               "vested": False, "private": False}
    assert (again.status_code, again.json()) == (200, accepted.json())
    assert Friendship.objects.active().count() == 3


def test_crossing_requests_over_the_api(cast, api_as):
    alice, _, _, mallory = cast
    api_as(mallory).post("/api/v1/friend-requests/", {"to": "alice"}, format="json")
    response = api_as(alice).post("/api/v1/friend-requests/", {"to": "mallory"}, format="json")
    assert (response.status_code, response.json()["status"]) == (201, "accepted")
    assert [f["username"] for f in api_as(mallory).get("/api/v1/friends/").json()] == ["alice"]


def test_decline_and_cancel(cast, api_as):
    alice, _, _, mallory = cast
    request_id = api_as(mallory).post("/api/v1/friend-requests/", {"to": "alice"}, format="json").json()["id"]
    assert api_as(alice).post(f"/api/v1/friend-requests/{request_id}/decline/").status_code == 204
    assert api_as(alice).get("/api/v1/friend-requests/").json()["incoming"] == []
    # The sender is not told.
    outgoing = api_as(mallory).get("/api/v1/friend-requests/").json()["outgoing"]
    assert [(r["id"], r["status"]) for r in outgoing] == [(request_id, "pending")]
    accept = api_as(alice).post(f"/api/v1/friend-requests/{request_id}/accept/")
    assert (accept.status_code, accept.json()["code"]) == (409, SocialCode.REQUEST_CLOSED)
    assert api_as(mallory).delete(f"/api/v1/friend-requests/{request_id}/").status_code == 204
    assert api_as(mallory).get("/api/v1/friend-requests/").json()["outgoing"] == []


@pytest.mark.parametrize(
    ("sender", "body", "status", "code"),
    [
        ("alice", {"to": "alice"}, 400, SocialCode.CANNOT_FRIEND_SELF),
        ("alice", {"to": "bob"}, 409, SocialCode.ALREADY_FRIENDS),
        ("alice", {}, 400, "required"),
        ("alice", {"to": "carol", "note": "hi"}, 400, "unknown_field"),
    ],
)
def test_request_errors(cast, api_as, sender, body, status, code):
    response = api_as(UserFactory(username=sender)).post("/api/v1/friend-requests/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert FriendRequest.objects.filter(status="pending").count() == 0


def test_request_to_someone_i_blocked_says_so(cast, api_as):
    alice = cast[0]
    services.block_create(blocker=alice, username="mallory")
    response = api_as(alice).post("/api/v1/friend-requests/", {"to": "mallory"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, SocialCode.YOU_BLOCKED)


def test_request_to_a_blocker_looks_exactly_like_a_request_to_a_stranger(cast, api_as):
    alice, _, _carol, mallory = cast
    services.block_create(blocker=alice, username="mallory")
    client = api_as(mallory)
    to_blocker = client.post("/api/v1/friend-requests/", {"to": "alice"}, format="json")
    to_stranger = client.post("/api/v1/friend-requests/", {"to": "carol"}, format="json")
    assert to_blocker.status_code == to_stranger.status_code == 201
    strip = lambda body: {k: v for k, v in body.items() if k not in {"id", "to", "created_at"}}  # noqa: E731
    assert strip(to_blocker.json()) == strip(to_stranger.json())
    again = client.post("/api/v1/friend-requests/", {"to": "alice"}, format="json")
    assert (again.status_code, again.json()) == (200, to_blocker.json())
    outgoing = client.get("/api/v1/friend-requests/").json()["outgoing"]
    assert sorted((r["to"], r["status"]) for r in outgoing) == [("alice", "pending"), ("carol", "pending")]
    # Nothing reached alice.
    assert api_as(alice).get("/api/v1/friend-requests/").json() == {"incoming": [], "outgoing": []}


# --- blocks --------------------------------------------------------------------------------------


def test_block_list_unblock(cast, api_as, signals_log, django_capture_on_commit_callbacks):
    alice, bob, _, _ = cast
    client = api_as(alice)
    with time_machine.travel(T0 + timedelta(days=2), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/blocks/", {"username": "bob"}, format="json")
    assert (response.status_code, response.json()) == (201, {"username": "bob",
                                                             "created_at": "2026-03-04T09:00:00Z"})
    assert client.post("/api/v1/blocks/", {"username": "bob"}, format="json").status_code == 200
    assert client.get("/api/v1/blocks/").json() == [response.json()]
    assert client.get("/api/v1/friends/").json() == []
    assert [f["username"] for f in api_as(bob).get("/api/v1/friends/").json()] == ["carol"]
    assert [(n, kw["reason"]) for n, kw in signals_log] == [("ended", "blocked")]
    # bob sees nothing of alice any more, and cannot tell he was blocked.
    assert api_as(bob).get("/api/v1/friends/alice/").json() == NOT_FOUND
    assert api_as(bob).get("/api/v1/blocks/").json() == []
    assert client.delete("/api/v1/blocks/bob/").status_code == 204
    assert client.get("/api/v1/blocks/").json() == []
    assert Block.objects.count() == 0


def test_block_yourself(cast, api_as):
    response = api_as(cast[0]).post("/api/v1/blocks/", {"username": "alice"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, SocialCode.CANNOT_BLOCK_SELF)


# --- strangers: the same 404 everywhere ----------------------------------------------------------


@pytest.fixture
def targets(cast):  # type: ignore[no-untyped-def]
    """From alice's side: a stranger, a member who blocked her, a member she blocked, an inactive
    member, and a username that does not exist."""
    alice = cast[0]
    blocker = UserFactory(username="blocker")
    UserFactory(username="blocked")
    UserFactory(username="gone", is_active=False)
    services.block_create(blocker=blocker, username="alice")
    services.block_create(blocker=alice, username="blocked")
    return alice


USERNAME_ENDPOINTS = [
    ("get", "/api/v1/friends/{u}/"),
    ("delete", "/api/v1/friends/{u}/"),
    ("delete", "/api/v1/blocks/{u}/"),
]
EVERYONE_BUT_FRIENDS = ["mallory", "blocker", "blocked", "gone", "ghost"]


@pytest.mark.parametrize(("method", "path", "who"), [
    (method, path, who) for method, path in USERNAME_ENDPOINTS for who in EVERYONE_BUT_FRIENDS
    # alice did block "blocked": unblocking them is hers to do (tested above).
    if not (path.startswith("/api/v1/blocks/") and who == "blocked")
])
def test_addressing_a_non_friend_answers_the_same_404(targets, api_as, method, path, who):
    response = getattr(api_as(targets), method)(path.format(u=who))
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    # Byte for byte the answer about a username that does not exist, and the same body as an
    # unknown URL.
    assert response.content == getattr(api_as(targets), method)(path.format(u="ghost")).content
    assert response.json() == api_as(targets).get("/api/v1/no-such-thing/").json()


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/friend-requests/", {"to": "{u}"}),
    ("/api/v1/blocks/", {"username": "{u}"}),
])
@pytest.mark.parametrize("who", ["gone", "ghost"])
def test_posting_to_a_member_who_does_not_exist_answers_404(targets, api_as, path, body, who):
    response = api_as(targets).post(path, {k: v.format(u=who) for k, v in body.items()}, format="json")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.fixture
def request_ids(targets, bob, carol, mallory):  # type: ignore[no-untyped-def]
    """Requests alice must not act on as recipient (or, for cancel, as sender)."""
    alice = targets
    others = services.friend_request_send(from_user=mallory, to_username="carol").request.pk
    muted = services.friend_request_send(from_user=UserFactory(username="muted"), to_username="alice").request
    services.block_create(blocker=alice, username="muted")
    mine = services.friend_request_send(from_user=alice, to_username="mallory").request.pk
    incoming = services.friend_request_send(from_user=UserFactory(username="fan"), to_username="alice").request.pk
    return {"others": others, "muted": muted.pk, "mine": mine, "incoming": incoming, "missing": 999_999}


@pytest.mark.parametrize(("method", "path", "cases"), [
    ("post", "/api/v1/friend-requests/{id}/accept/", ["others", "muted", "mine", "missing"]),
    ("post", "/api/v1/friend-requests/{id}/decline/", ["others", "muted", "mine", "missing"]),
    ("delete", "/api/v1/friend-requests/{id}/", ["others", "muted", "incoming", "missing"]),
])
def test_acting_on_a_request_that_is_not_yours_answers_the_same_404(request_ids, targets, api_as,
                                                                   method, path, cases):
    client = api_as(targets)
    for case in cases:
        response = getattr(client, method)(path.format(id=request_ids[case]))
        assert (case, response.status_code, response.json()) == (case, 404, NOT_FOUND)
    assert getattr(client, method)(path.replace("{id}", "abc")).json() == NOT_FOUND


def test_unknown_invitation_token_answers_404(targets, api_as):
    response = api_as(targets).post("/api/v1/invitations/" + "x" * 43 + "/accept/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_no_endpoint_shows_a_non_friends_score(targets, api_as):
    UserFactory(username="rich", score=900, score_band="Excellent")
    client = api_as(targets)
    bodies = [client.get(p).json() for p in ["/api/v1/friends/", "/api/v1/friend-requests/",
                                              "/api/v1/blocks/", "/api/v1/friends/suggestions/",
                                              "/api/v1/friends/rich/"]]
    # Every number in every answer (a timestamp's microseconds may read "900", a score may not).
    assert 900 not in list(_numbers(bodies))


def _numbers(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/friends/"), ("get", "/api/v1/friends/bob/"), ("delete", "/api/v1/friends/bob/"),
    ("get", "/api/v1/friends/suggestions/"), ("get", "/api/v1/friend-requests/"),
    ("post", "/api/v1/friend-requests/"), ("post", "/api/v1/friend-requests/1/accept/"),
    ("post", "/api/v1/friend-requests/1/decline/"), ("delete", "/api/v1/friend-requests/1/"),
    ("get", "/api/v1/blocks/"), ("post", "/api/v1/blocks/"), ("delete", "/api/v1/blocks/bob/"),
    ("get", "/api/v1/invitations/"), ("post", "/api/v1/invitations/"),
    ("post", "/api/v1/invitations/abc/accept/"),
])
def test_every_endpoint_needs_authentication(api, method, path):
    response = getattr(api, method)(path)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_session_auth_needs_csrf(cast, client):
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.force_login(cast[0])
    response = csrf_client.post("/api/v1/blocks/", {"username": "mallory"}, format="json")
    assert response.status_code == 403
    assert Block.objects.count() == 0
    assert not mail.outbox
