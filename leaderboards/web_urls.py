from django.urls import path

from leaderboards import views

urlpatterns = [
    path("", views.leaderboard_page, name="leaderboard"),
]
