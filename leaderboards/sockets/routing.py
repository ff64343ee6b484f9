"""WebSocket routes: the live leaderboards (``consumers.LeaderboardConsumer``, behind
``tickets.TicketAuthMiddleware``)."""

from django.urls import path

from leaderboards.sockets.consumers import LeaderboardConsumer
from leaderboards.sockets.tickets import TicketAuthMiddleware

websocket_urlpatterns = [
    path("ws/leaderboards/", TicketAuthMiddleware(LeaderboardConsumer.as_asgi())),
]
