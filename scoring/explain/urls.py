"""The member's score on the REST API, included under /api/v1/. (``me/events/`` is moderation's:
each event with its dispute.)"""

from django.urls import path

from scoring.explain import api

urlpatterns = [
    path("me/score/", api.ScoreView.as_view(), name="api-score"),
    path("me/score/history/", api.ScoreHistoryView.as_view(), name="api-score-history"),
    path("me/score/changes/", api.ScoreChangesView.as_view(), name="api-score-changes"),
    path("me/score/what-if/", api.WhatIfView.as_view(), name="api-score-what-if"),
    path("score/model/", api.ScoreModelView.as_view(), name="api-score-model"),
]
