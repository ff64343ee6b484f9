"""WebSocket routes (the live leaderboard consumer arrives with the leaderboards issue)."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
