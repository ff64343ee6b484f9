"""The notifications page."""

from django.urls import path

from accounts.notifications import views

urlpatterns = [
    path("notifications/", views.notifications_page, name="notifications"),
    path("notifications/read-all/", views.notifications_read, name="notifications-read"),
]
