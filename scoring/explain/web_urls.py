"""The member's score pages."""

from django.urls import path

from scoring.explain import views

urlpatterns = [
    path("score/", views.score_page, name="score"),
    path("score/changes/", views.changes_page, name="score-changes"),
    path("score/how-it-works/", views.how_it_works_page, name="score-how-it-works"),
]
