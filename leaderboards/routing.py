"""WebSocket routes: the live leaderboards (``leaderboards.consumers``)."""

from django.urls import path

from leaderboards.auth import TicketAuthMiddleware
from leaderboards.consumers import LeaderboardConsumer

websocket_urlpatterns = [
    path("ws/leaderboards/", TicketAuthMiddleware(LeaderboardConsumer.as_asgi())),
]
