"""The leaderboard page: around me (live), the top of the board and the pages after it (still)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.leaderboards.conftest import member

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def crowd(db):  # type: ignore[no-untyped-def]
    """60 members on the global board, 900 down to 605, each reaching the score a second apart."""
    with time_machine.travel(T0, tick=False):
        users = [member(f"m{n:02d}", 900 - 5 * n, at=T0 + timedelta(seconds=n)) for n in range(60)]
    return users


def _ranks(html: str) -> list[int]:
    return [int(r) for r in re.findall(r'<span class="lb-rank">(\d+)</span>', html)]


def test_the_page_opens_around_me_with_a_way_to_the_top(client, crowd):
    client.force_login(crowd[49])
    html = client.get("/leaderboard/?board=global").content.decode()
    assert _ranks(html) == list(range(38, 61))  # 12 above me, me, the rest below (the board ends at 60)
    assert 'href="?board=global&amp;from=top">Top of the board</a>' in html
    assert "data-paged" not in html and "Back to me" not in html


def test_the_top_and_the_next_page_are_still_pages_with_a_way_back(client, crowd):
    client.force_login(crowd[49])
    top = client.get("/leaderboard/?board=global&from=top")
    html = top.content.decode()
    assert _ranks(html) == list(range(1, 26))
    assert 'data-paged="1"' in html
    assert '<a class="button ghost" href="?board=global">Back to me (live)</a>' in html
    assert "Top of the board" not in html
    cursor = top.context["next_cursor"]
    assert f'href="?board=global&amp;after={cursor}">Further down</a>' in html
    second = client.get(f"/leaderboard/?board=global&after={cursor}")
    assert _ranks(second.content.decode()) == list(range(26, 51))
    last = client.get(f"/leaderboard/?board=global&after={second.context['next_cursor']}")
    assert _ranks(last.content.decode()) == list(range(51, 61))
    assert last.context["next_cursor"] is None and "Further down" not in last.content.decode()


def test_a_bad_cursor_or_board_falls_back_to_around_me(client, crowd):
    client.force_login(crowd[49])
    response = client.get("/leaderboard/?board=global&after=not-a-cursor")
    assert response.status_code == 200 and response.context["paged"] is False
    assert 50 in _ranks(response.content.decode())
    response = client.get("/leaderboard/?board=nope")
    assert response.status_code == 200 and response.context["board"] == "friends"


def test_the_top_member_sees_no_top_link(client, crowd):
    client.force_login(crowd[0])
    html = client.get("/leaderboard/?board=global").content.decode()
    assert _ranks(html)[0] == 1
    assert "Top of the board" not in html
