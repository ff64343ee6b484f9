from django.urls import path

from leaderboards import honour_api

urlpatterns = [
    path("members/<str:username>/", honour_api.HonourView.as_view(), name="api-member-honour"),
]
