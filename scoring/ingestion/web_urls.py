"""Members' partner connections on the web."""

from django.urls import path

from scoring.ingestion import views

urlpatterns = [
    path("partners/", views.partners_page, name="partners"),
    path("partners/<slug:slug>/connect/", views.partner_connect, name="partner-connect"),
    path("partners/<slug:slug>/disconnect/", views.partner_disconnect, name="partner-disconnect"),
]
