"""The boards on the REST API, included under /api/v1/."""

from django.urls import path

from leaderboards.boards import api

urlpatterns = [
    path("leaderboards/<str:board>/", api.LeaderboardView.as_view(), name="api-leaderboard"),
]
