"""The live leaderboard page (mobile-first; ``static/js/leaderboard.js`` keeps it moving).

The page opens on the rows around the member, live. ``?from=top`` shows the board's first rows
and ``?after=<cursor>`` the rows after a page (the REST API's cursors): those pages are a still
picture (the socket is not subscribed), with a way back to "me", live.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.members.access import member_of
from leaderboards.boards import services
from leaderboards.boards.ranking import Cursor, InvalidCursor
from leaderboards.live import protocol


@login_required
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    board = request.GET.get("board", protocol.FRIENDS)
    if board not in protocol.BOARDS:
        board = protocol.FRIENDS
    cursor: Cursor | None = None
    try:
        cursor = Cursor.decode(request.GET["after"]) if request.GET.get("after") else None
    except InvalidCursor:
        cursor = None
    paged = cursor is not None or request.GET.get("from") == "top"
    # Rendered once on the server for a fast first paint; the socket takes over from there.
    view = services.board_for(board, viewer=me).view(viewer_id=me.pk, limit=protocol.WINDOW, cursor=cursor,
                                                     around_me=not paged)
    data = view.as_dict(viewer_id=me.pk)
    tabs = [(protocol.FRIENDS, "Friends"), (protocol.GLOBAL, "Global"), (protocol.WEEKLY, "This week")]
    entries = data["entries"]
    return render(request, "leaderboards/leaderboard.html", {
        "board": board, "tabs": tabs, "view": data, "me": me, "paged": paged,
        # "Top of the board" when the first row shown is not #1; "Further down" when more follow.
        "at_top": not entries or entries[0]["rank"] == 1,
        "next_cursor": data["next"],
        "window": protocol.WINDOW,
    })
