"""The member's on-time streak and progress to the next band, included under /api/v1/."""

from django.urls import path

from scoring.progress import api

urlpatterns = [
    path("me/streak/", api.MyStreakView.as_view(), name="api-my-streak"),
    path("me/score/progress/", api.MyProgressView.as_view(), name="api-score-progress"),
]
