from django.urls import path

from leaderboards import honour_views

urlpatterns = [
    path("<str:username>/", honour_views.honour_page, name="member-honour"),
]
