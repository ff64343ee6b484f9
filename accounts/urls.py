from django.urls import path

from accounts import api, notifications_api

urlpatterns = [
    path("auth/register/", api.RegisterView.as_view(), name="api-register"),
    path("auth/login/", api.LoginView.as_view(), name="api-login"),
    path("auth/logout/", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logoutall/", api.LogoutAllView.as_view(), name="api-logoutall"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("me/notifications/", notifications_api.NotificationsView.as_view(), name="api-my-notifications"),
    path("me/notifications/read/", notifications_api.NotificationsReadView.as_view(),
         name="api-my-notifications-read"),
    path("me/notifications/mutes/", notifications_api.NotificationMutesView.as_view(),
         name="api-my-notification-mutes"),
]
