"""Members' side of moderation on the web: dispute an event, report a member."""

from django.urls import path

from scoring.moderation import views

urlpatterns = [
    path("score/events/<int:event_id>/dispute/", views.event_dispute, name="event-dispute"),
    path("report/", views.flag_member, name="flag-member"),
]
