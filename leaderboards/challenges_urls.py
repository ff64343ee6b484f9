from django.urls import path

from leaderboards import challenges_api

urlpatterns = [
    path("challenges/", challenges_api.ChallengesView.as_view(), name="api-challenges"),
    path("challenges/<int:pk>/", challenges_api.ChallengeDetailView.as_view(), name="api-challenge"),
    path("challenges/<int:pk>/accept/", challenges_api.ChallengeAcceptView.as_view(), name="api-challenge-accept"),
    path("challenges/<int:pk>/decline/", challenges_api.ChallengeDeclineView.as_view(), name="api-challenge-decline"),
    path("challenges/<int:pk>/cancel/", challenges_api.ChallengeCancelView.as_view(), name="api-challenge-cancel"),
]
