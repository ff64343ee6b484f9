"""WebSocket tickets on the REST API (DESIGN.md §8).

``POST ws-ticket/`` → 201 ``{ticket, expires_in}``: single use, for ``/ws/leaderboards/?ticket=``
(``tickets``); ``expires_in`` in seconds.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members.access import member_of
from leaderboards.sockets import tickets


class WsTicketView(APIView):
    @extend_schema(request=None, responses={201: None})
    def post(self, request: Request) -> Response:
        me = member_of(request)
        token = getattr(request.auth, "token_key", None)
        session_key = None if token else getattr(getattr(request, "session", None), "session_key", None)
        ticket = tickets.ticket_issue(member=me, token_key=token, session_key=session_key)
        return Response({"ticket": ticket, "expires_in": settings.LEADERBOARDS_WS_TICKET_SECONDS},
                        status=status.HTTP_201_CREATED)
