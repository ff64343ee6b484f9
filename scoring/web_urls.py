from django.urls import path

from scoring import views

urlpatterns = [
    path("score/", views.score_page, name="score"),
    path("score/changes/", views.changes_page, name="score-changes"),
    path("score/events/", views.events_page, name="score-events"),
    path("partners/", views.partners_page, name="partners"),
    path("partners/<slug:slug>/connect/", views.partner_connect, name="partner-connect"),
    path("partners/<slug:slug>/disconnect/", views.partner_disconnect, name="partner-disconnect"),
]
