"""The board of honour page: ``/members/<username>/`` (``leaderboards.honour``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from leaderboards.honour import honour_for
from social.errors import NotFound


def honour_page(request: HttpRequest, username: str) -> HttpResponse:
    try:
        honour = honour_for(username=username, viewer=request.user)
    except NotFound:
        raise Http404 from None
    return render(request, "leaderboards/honour.html", {"honour": honour})
