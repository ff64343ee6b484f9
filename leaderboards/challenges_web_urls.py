from django.urls import path

from leaderboards import challenges_views

urlpatterns = [
    path("", challenges_views.challenges_page, name="challenges"),
    path("<int:pk>/accept/", challenges_views.challenge_accept, name="challenge-accept"),
    path("<int:pk>/decline/", challenges_views.challenge_decline, name="challenge-decline"),
    path("<int:pk>/cancel/", challenges_views.challenge_cancel, name="challenge-cancel"),
]
