"""Gamification on the REST API, included under /api/v1/: badges, perks, challenges, boards of honour."""

from django.urls import path

from leaderboards.gamification import api

urlpatterns = [
    path("me/perks/", api.MyPerksView.as_view(), name="api-my-perks"),
    path("members/<str:username>/", api.HonourView.as_view(), name="api-member-honour"),
    path("challenges/", api.ChallengesView.as_view(), name="api-challenges"),
    path("challenges/<int:pk>/", api.ChallengeDetailView.as_view(), name="api-challenge"),
    path("challenges/<int:pk>/accept/", api.ChallengeAcceptView.as_view(), name="api-challenge-accept"),
    path("challenges/<int:pk>/decline/", api.ChallengeDeclineView.as_view(), name="api-challenge-decline"),
    path("challenges/<int:pk>/cancel/", api.ChallengeCancelView.as_view(), name="api-challenge-cancel"),
    path("me/badges/", api.MyBadgesView.as_view(), name="api-my-badges"),
]
