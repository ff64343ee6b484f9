from django.urls import path

from scoring import streaks_api

urlpatterns = [
    path("me/streak/", streaks_api.MyStreakView.as_view(), name="api-my-streak"),
    path("me/score/progress/", streaks_api.MyProgressView.as_view(), name="api-score-progress"),
]
