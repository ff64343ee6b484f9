"""The partner's status and dispute API (signed), included under /api/v1/."""

from django.urls import path

from scoring.partners import api

urlpatterns = [
    path("partner/events/", api.PartnerEventsView.as_view(), name="api-partner-events"),
    # Before the event's own path: an external id may hold slashes (``<path:…>``).
    path("partner/events/<path:external_id>/dispute-response/", api.DisputeResponseView.as_view(),
         name="api-partner-dispute-response"),
    path("partner/events/<path:external_id>/", api.PartnerEventView.as_view(), name="api-partner-event"),
]
