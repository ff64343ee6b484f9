from django.urls import path

from scoring import api

urlpatterns = [
    path("events/", api.EventIngestView.as_view(), name="api-events"),
    path("events/batch/", api.EventBatchView.as_view(), name="api-events-batch"),
    path("me/score/", api.ScoreView.as_view(), name="api-score"),
    path("me/score/history/", api.ScoreHistoryView.as_view(), name="api-score-history"),
    path("me/score/changes/", api.ScoreChangesView.as_view(), name="api-score-changes"),
    path("me/score/what-if/", api.WhatIfView.as_view(), name="api-score-what-if"),
    path("me/events/", api.MyEventsView.as_view(), name="api-my-events"),
    path("me/partners/", api.MyPartnersView.as_view(), name="api-my-partners"),
    path("me/partners/<slug:slug>/", api.MyPartnerView.as_view(), name="api-my-partner"),
]
