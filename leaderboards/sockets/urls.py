"""Single-use WebSocket tickets for native clients, included under /api/v1/."""

from django.urls import path

from leaderboards.sockets import api

urlpatterns = [
    path("ws-ticket/", api.WsTicketView.as_view(), name="api-ws-ticket"),
]
