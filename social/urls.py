"""The social API, included under /api/v1/ (DESIGN.md §8 names)."""

from django.urls import path

from social import api

urlpatterns = [
    path("friends/", api.FriendsView.as_view(), name="api-friends"),
    # Before friends/<username>/: see FriendSuggestionsView.delete for a member named so.
    path("friends/suggestions/", api.FriendSuggestionsView.as_view(), name="api-friend-suggestions"),
    path("friends/<str:username>/", api.FriendDetailView.as_view(), name="api-friend"),
    path("friend-requests/", api.FriendRequestsView.as_view(), name="api-friend-requests"),
    path("friend-requests/<int:pk>/", api.FriendRequestDetailView.as_view(), name="api-friend-request"),
    path("friend-requests/<int:pk>/accept/", api.FriendRequestAcceptView.as_view(),
         name="api-friend-request-accept"),
    path("friend-requests/<int:pk>/decline/", api.FriendRequestDeclineView.as_view(),
         name="api-friend-request-decline"),
    path("blocks/", api.BlocksView.as_view(), name="api-blocks"),
    path("blocks/<str:username>/", api.BlockDetailView.as_view(), name="api-block"),
    path("invitations/", api.InvitationsView.as_view(), name="api-invitations"),
    path("invitations/<str:token>/accept/", api.InvitationAcceptView.as_view(), name="api-invitation-accept"),
]
