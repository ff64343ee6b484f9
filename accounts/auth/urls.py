"""The members' authentication API, included under /api/v1/."""

from django.urls import path

from accounts.auth import api

urlpatterns = [
    path("auth/register/", api.RegisterView.as_view(), name="api-register"),
    path("auth/login/", api.LoginView.as_view(), name="api-login"),
    path("auth/logout/", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logoutall/", api.LogoutAllView.as_view(), name="api-logoutall"),
    path("me/", api.MeView.as_view(), name="api-me"),
]
