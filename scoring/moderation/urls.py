"""Members' side of moderation on the REST API, included under /api/v1/: disputes, notices, flags."""

from django.urls import path

from scoring.moderation import api

urlpatterns = [
    path("me/events/<int:event_id>/dispute/", api.DisputeView.as_view(), name="api-event-dispute"),
    path("me/events/", api.MyEventsView.as_view(), name="api-my-events"),
    path("me/disputes/", api.MyDisputesView.as_view(), name="api-my-disputes"),
    path("me/notices/", api.MyNoticesView.as_view(), name="api-my-notices"),
    path("me/notices/read/", api.MyNoticesReadView.as_view(), name="api-my-notices-read"),
    path("flags/", api.FlagsView.as_view(), name="api-flags"),
]
