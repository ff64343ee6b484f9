"""The live leaderboard page."""

from django.urls import path

from leaderboards.boards import views

urlpatterns = [
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
]
