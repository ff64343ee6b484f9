"""Partner ingestion (signed) and members' partner connections, included under /api/v1/."""

from django.urls import path

from scoring.ingestion import api

urlpatterns = [
    path("events/", api.EventIngestView.as_view(), name="api-events"),
    path("events/batch/", api.EventBatchView.as_view(), name="api-events-batch"),
    path("me/partners/", api.MyPartnersView.as_view(), name="api-my-partners"),
    path("me/partners/<slug:slug>/", api.MyPartnerView.as_view(), name="api-my-partner"),
]
