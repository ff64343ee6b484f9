"""Gamification pages: boards of honour, perks, challenges, badges."""

from django.urls import path

from leaderboards.gamification import views

urlpatterns = [
    path("members/<str:username>/", views.honour_page, name="member-honour"),
    path("perks/", views.perks_page, name="perks"),
    path("challenges/", views.challenges_page, name="challenges"),
    path("challenges/<int:pk>/accept/", views.challenge_accept, name="challenge-accept"),
    path("challenges/<int:pk>/decline/", views.challenge_decline, name="challenge-decline"),
    path("challenges/<int:pk>/cancel/", views.challenge_cancel, name="challenge-cancel"),
    path("badges/", views.badges_page, name="badges"),
]
