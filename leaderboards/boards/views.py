"""The live leaderboard page (mobile-first; ``static/js/leaderboard.js`` keeps it moving)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.members.access import member_of
from leaderboards.boards import services
from leaderboards.live import protocol


@login_required
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    board = request.GET.get("board", protocol.FRIENDS)
    if board not in protocol.BOARDS:
        board = protocol.FRIENDS
    # Rendered once on the server for a fast first paint; the socket takes over from there.
    view = services.board_for(board, viewer=me).view(viewer_id=me.pk, limit=protocol.WINDOW, around_me=True)
    tabs = [(protocol.FRIENDS, "Friends"), (protocol.GLOBAL, "Global"), (protocol.WEEKLY, "This week")]
    return render(request, "leaderboards/leaderboard.html", {
        "board": board, "tabs": tabs, "view": view.as_dict(viewer_id=me.pk), "me": me,
    })
