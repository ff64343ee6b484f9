"""The live leaderboard socket against the real ``config.asgi.application``.

Every test disconnects its communicators; nothing here sets DJANGO_ALLOW_ASYNC_UNSAFE: the
synchronous setup runs through ``database_sync_to_async``.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from leaderboards.live.protocol import CloseCode
from social.graph import services as social_services
from tests.leaderboards.conftest import befriend, member, rows, scored, subscribe

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
async def _quick_ticks(settings):  # type: ignore[no-untyped-def]
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.05
    yield
    await get_channel_layer().flush()


def _session_cookie(user) -> bytes:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user=None, *, path: str = "/ws/leaderboards/", origin: bool = True,  # type: ignore[no-untyped-def]
                  cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN] if origin else []
    if user is not None:
        cookie = await database_sync_to_async(_session_cookie)(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.fixture
async def cast():  # type: ignore[no-untyped-def]
    def make():  # type: ignore[no-untyped-def]
        alice = member("alice", 700)
        bob = member("bob", 650)
        carol = member("carol", 600)
        mallory = member("mallory", 500)
        befriend(alice, bob)
        befriend(bob, carol)
        return {"alice": alice, "bob": bob, "carol": carol, "mallory": mallory}

    return await database_sync_to_async(make)()


async def test_friend_receives_the_change_and_a_stranger_receives_nothing(cast):
    alice = await connect(cast["alice"])
    mallory = await connect(cast["mallory"])
    snapshot = await subscribe(alice, "friends")
    assert snapshot == {"type": "snapshot", "board": "friends", "seq": 1, "total": 2, "my_rank": 1,
                        "entries": [
                            {"rank": 1, "username": "alice", "score": 700, "band": "Excellent", "is_me": True},
                            {"rank": 2, "username": "bob", "score": 650, "band": "Very good", "is_me": False}]}
    await subscribe(mallory, "friends")

    await database_sync_to_async(scored)(cast["bob"], 720)

    messages = [await alice.receive_json_from(timeout=3) for _ in range(3)]
    first, second = [m for m in messages if m["type"] == "rank.changed"]
    # bob passed alice on her friends board: she is also told so (a notification, in any order).
    [told] = [m for m in messages if m["type"] == "notification"]
    assert (told["kind"], told["text"]) == ("passed", "bob passed you on your friends board (720 vs your 700)")
    assert first == {"type": "rank.changed", "board": "friends", "seq": 2, "username": "bob", "old_rank": 2,
                     "new_rank": 1, "old_score": 650, "new_score": 720, "band": "Excellent", "is_me": False,
                     "cause": "event"}
    assert second == {"type": "rank.changed", "board": "friends", "seq": 3, "username": "alice", "old_rank": 1,
                      "new_rank": 2, "old_score": 700, "new_score": 700, "band": "Excellent", "is_me": True,
                      "cause": "shift", "passed_by": ["bob"]}
    assert await mallory.receive_nothing(timeout=0.5)
    assert await alice.receive_nothing(timeout=0.3)
    await alice.disconnect()
    await mallory.disconnect()


async def test_a_burst_is_coalesced_into_one_update_per_tick(cast, settings):
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 0.5
    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")

    def burst() -> None:
        for score in (660, 670, 680, 690):
            scored(cast["bob"], score)

    await database_sync_to_async(burst)()
    # The first change of a quiet spell goes out at once (leading edge) ...
    first = await alice.receive_json_from(timeout=3)
    assert (first["seq"], first["old_score"], first["new_score"], first["old_rank"], first["new_rank"]) == (
        2, 650, 660, 2, 2)
    # ... the rest of the burst becomes one update on a later tick.
    rest = await alice.receive_json_from(timeout=3)
    assert (rest["seq"], rest["old_score"], rest["new_score"], rest["old_rank"], rest["new_rank"]) == (
        3, 660, 690, 2, 2)
    assert await alice.receive_nothing(timeout=0.8)
    await alice.disconnect()


async def test_a_lone_change_does_not_wait_for_the_tick(cast, settings):
    settings.LEADERBOARDS_LIVE_TICK_SECONDS = 5.0
    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")
    await database_sync_to_async(scored)(cast["bob"], 720)
    message = await alice.receive_json_from(timeout=1)  # well before a 5 s tick
    assert (message["username"], message["new_score"], message["seq"]) == ("bob", 720, 2)
    await alice.disconnect()


async def test_a_score_change_nobody_shows_sends_nothing(cast):
    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")
    await database_sync_to_async(scored)(cast["carol"], 610)  # bob's friend, not alice's
    assert await alice.receive_nothing(timeout=0.5)
    await alice.disconnect()


async def test_resync_after_a_gap_sends_a_fresh_snapshot_with_the_next_seq(cast):
    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")
    await database_sync_to_async(scored)(cast["bob"], 660)
    changed = await alice.receive_json_from(timeout=3)
    assert changed["seq"] == 2
    # The client saw seq 2 but pretends it missed it (a gap): it asks for the whole board.
    await alice.send_json_to({"type": "resync", "board": "friends"})
    snapshot = await alice.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 3
    assert rows(snapshot["entries"]) == [(1, "alice", 700), (2, "bob", 660)]
    await alice.disconnect()


async def test_global_board_window_moves_live(cast):
    alice = await connect(cast["alice"])
    snapshot = await subscribe(alice, "global")
    assert rows(snapshot["entries"]) == [(1, "alice", 700), (2, "bob", 650), (3, "carol", 600), (4, "mallory", 500)]
    await database_sync_to_async(scored)(cast["mallory"], 710)
    messages = [await alice.receive_json_from(timeout=3) for _ in range(4)]
    assert [(m["seq"], m["username"], m["old_rank"], m["new_rank"]) for m in messages] == [
        (2, "mallory", 4, 1), (3, "alice", 1, 2), (4, "bob", 2, 3), (5, "carol", 3, 4)]
    assert messages[1]["passed_by"] == ["mallory"]
    await alice.disconnect()


async def test_bad_messages_get_errors_not_a_crash(cast):
    alice = await connect(cast["alice"])
    await alice.send_to(text_data="{not json")
    assert (await alice.receive_json_from())["code"] == "bad_json"
    await alice.send_json_to(["a", "list"])
    assert (await alice.receive_json_from())["code"] == "bad_json"
    await alice.send_json_to({"type": "dance", "board": "friends"})
    assert (await alice.receive_json_from())["code"] == "unknown_type"
    await alice.send_json_to({"type": "subscribe", "board": "galactic"})
    error = await alice.receive_json_from()
    assert error["type"] == "error" and error["code"] == "unknown_board" and error["detail"]
    await alice.send_json_to({"type": "resync", "board": "weekly"})
    assert (await alice.receive_json_from())["code"] == "not_subscribed"
    # Still alive and well.
    assert (await subscribe(alice, "friends"))["seq"] == 1
    await alice.disconnect()


async def test_anonymous_socket_is_closed_with_4401(db):
    communicator = await connect(None)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "not_authenticated"
    closed = await communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": CloseCode.NOT_AUTHENTICATED}
    await communicator.disconnect()


async def test_native_client_without_origin_or_ticket_is_closed_with_4401(db):
    communicator = await connect(None, origin=False)
    assert (await communicator.receive_json_from())["code"] == "not_authenticated"
    assert (await communicator.receive_output(timeout=2))["code"] == 4401
    await communicator.disconnect()


async def test_foreign_origin_is_refused_even_with_a_session(cast):
    cookie = await database_sync_to_async(_session_cookie)(cast["alice"])
    communicator = WebsocketCommunicator(application, "/ws/leaderboards/",
                                         headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_ticket_works_once_without_origin(cast, api_as):
    def ticket() -> str:
        return api_as(cast["bob"]).post("/api/v1/ws-ticket/").json()["ticket"]

    value = await database_sync_to_async(ticket)()
    native = await connect(None, origin=False, path=f"/ws/leaderboards/?ticket={value}&board=friends")
    snapshot = await native.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot" and snapshot["my_rank"] == 2
    again = await connect(None, origin=False, path=f"/ws/leaderboards/?ticket={value}")
    assert (await again.receive_json_from())["code"] == "ticket_invalid"
    assert (await again.receive_output(timeout=2))["code"] == CloseCode.TICKET_INVALID
    await native.disconnect()
    await again.disconnect()


async def test_expired_ticket_is_refused(cast, settings):
    from leaderboards.sockets.tickets import ticket_issue

    settings.LEADERBOARDS_WS_TICKET_SECONDS = 1
    value = await database_sync_to_async(ticket_issue)(member=cast["bob"])
    await asyncio.sleep(1.2)
    communicator = await connect(None, origin=False, path=f"/ws/leaderboards/?ticket={value}")
    assert (await communicator.receive_json_from())["code"] == "ticket_invalid"
    assert (await communicator.receive_output(timeout=2))["code"] == 4403
    await communicator.disconnect()


async def test_logging_out_closes_the_open_socket(cast):
    client = Client()
    await database_sync_to_async(client.force_login)(cast["alice"])
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = await connect(cookie=cookie)
    await subscribe(socket, "friends")
    await database_sync_to_async(client.post)("/accounts/logout/")
    error = await socket.receive_json_from(timeout=4)
    assert error["code"] == "not_authenticated"
    assert (await socket.receive_output(timeout=2))["code"] == CloseCode.NOT_AUTHENTICATED
    await socket.disconnect()


async def test_logging_out_the_token_closes_the_ticket_socket(cast, api_as):
    holder: dict = {}

    def ticket() -> str:
        holder["client"] = api_as(cast["bob"])
        return holder["client"].post("/api/v1/ws-ticket/").json()["ticket"]

    value = await database_sync_to_async(ticket)()
    socket = await connect(None, origin=False, path=f"/ws/leaderboards/?ticket={value}")
    await subscribe(socket, "friends")
    response = await database_sync_to_async(holder["client"].post)("/api/v1/auth/logout/")
    assert response.status_code == 204
    assert (await socket.receive_json_from(timeout=4))["code"] == "not_authenticated"
    assert (await socket.receive_output(timeout=2))["code"] == 4401
    await socket.disconnect()


async def test_unfriending_refreshes_both_open_boards(cast):
    alice = await connect(cast["alice"])
    bob = await connect(cast["bob"])
    await subscribe(alice, "friends")
    await subscribe(bob, "friends")
    await database_sync_to_async(social_services.friendship_unfriend)(member=cast["alice"], username="bob")
    alices = await alice.receive_json_from(timeout=3)
    bobs = await bob.receive_json_from(timeout=3)
    assert (alices["type"], alices["seq"], rows(alices["entries"])) == ("snapshot", 2, [(1, "alice", 700)])
    assert (bobs["type"], rows(bobs["entries"])) == ("snapshot", [(1, "bob", 650), (2, "carol", 600)])
    # And bob's changes no longer reach alice.
    await database_sync_to_async(scored)(cast["bob"], 800)
    # bob also reached Excellent: a badge, so its notification and me.changed come too (any order).
    messages = [await bob.receive_json_from(timeout=3) for _ in range(3)]
    assert sorted(m["type"] for m in messages) == ["me.changed", "notification", "rank.changed"]
    assert [m["username"] for m in messages if m["type"] == "rank.changed"] == ["bob"]
    assert await alice.receive_nothing(timeout=0.5)
    await alice.disconnect()
    await bob.disconnect()


async def test_new_friendship_shows_up_live(cast):
    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")
    await database_sync_to_async(befriend_via_signal)(cast["alice"], cast["carol"])
    snapshot = await alice.receive_json_from(timeout=3)
    assert rows(snapshot["entries"]) == [(1, "alice", 700), (2, "bob", 650), (3, "carol", 600)]
    await alice.disconnect()


def befriend_via_signal(first, second) -> None:  # type: ignore[no-untyped-def]
    from social.graph.signals import friendship_started

    friendship = befriend(first, second)
    friendship_started.send(sender=type(friendship), friendship_id=friendship.pk, member_a_id=friendship.member_a_id,
                            member_b_id=friendship.member_b_id, accepted_at=friendship.accepted_at,
                            vests_at=friendship.accepted_at)


async def test_going_private_takes_a_member_off_friends_boards(cast):
    from accounts.members.models import User
    from leaderboards.boards import services

    alice = await connect(cast["alice"])
    await subscribe(alice, "friends")

    def hide() -> None:
        User.objects.filter(pk=cast["bob"].pk).update(private_mode=True)
        services.member_listing_changed(member_id=cast["bob"].pk)

    await database_sync_to_async(hide)()
    message = await alice.receive_json_from(timeout=3)
    assert (message["username"], message["old_rank"], message["new_rank"], message["new_score"]) == (
        "bob", 2, None, None)
    await alice.disconnect()
