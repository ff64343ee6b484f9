"""The notification feed on the REST API, included under /api/v1/."""

from django.urls import path

from accounts.notifications import api

urlpatterns = [
    path("me/notifications/", api.NotificationsView.as_view(), name="api-my-notifications"),
    path("me/notifications/read/", api.NotificationsReadView.as_view(), name="api-my-notifications-read"),
    path("me/notifications/mutes/", api.NotificationMutesView.as_view(), name="api-my-notification-mutes"),
]
