from django.urls import path

from leaderboards import perks_views

urlpatterns = [
    path("", perks_views.perks_page, name="perks"),
]
