from django.urls import path

from leaderboards import badges_views

urlpatterns = [
    path("", badges_views.badges_page, name="badges"),
]
