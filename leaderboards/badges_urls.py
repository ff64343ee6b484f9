from django.urls import path

from leaderboards import badges_api

urlpatterns = [
    path("me/badges/", badges_api.MyBadgesView.as_view(), name="api-my-badges"),
]
