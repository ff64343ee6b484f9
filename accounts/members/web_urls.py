"""The members' own pages: the landing page and settings."""

from django.urls import path

from accounts.members import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("settings/", views.settings_page, name="settings"),
]
