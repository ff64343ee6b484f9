"""WebSocket routes: the live leaderboards (``leaderboards.consumers``)."""

from django.urls import path

from leaderboards.sockets.consumers import LeaderboardConsumer
from leaderboards.sockets.tickets import TicketAuthMiddleware

websocket_urlpatterns = [
    path("ws/leaderboards/", TicketAuthMiddleware(LeaderboardConsumer.as_asgi())),
]
