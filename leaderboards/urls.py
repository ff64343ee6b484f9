from django.urls import path

from leaderboards import api

urlpatterns = [
    path("leaderboards/<str:board>/", api.LeaderboardView.as_view(), name="api-leaderboard"),
    path("ws-ticket/", api.WsTicketView.as_view(), name="api-ws-ticket"),
]
