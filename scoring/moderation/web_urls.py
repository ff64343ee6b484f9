"""Members' side of moderation on the web: their events with disputes, dispute one, report a member."""

from django.urls import path

from scoring.moderation import views

urlpatterns = [
    path("score/events/", views.events_page, name="score-events"),
    path("score/events/<int:event_id>/dispute/", views.event_dispute, name="event-dispute"),
    path("report/", views.flag_member, name="flag-member"),
]
