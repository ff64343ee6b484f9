from django.urls import path

from leaderboards import perks_api

urlpatterns = [
    path("me/perks/", perks_api.MyPerksView.as_view(), name="api-my-perks"),
]
