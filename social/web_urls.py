"""The friends pages, included at /friends/."""

from django.urls import path

from social import views

urlpatterns = [
    path("", views.friends_page, name="friends"),
    path("confirm/", views.friend_confirm, name="friend-confirm"),
    path("requests/", views.request_send, name="friend-request-send"),
    path("requests/<int:pk>/accept/", views.request_accept, name="friend-request-accept"),
    path("requests/<int:pk>/decline/", views.request_decline, name="friend-request-decline"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="friend-request-cancel"),
    path("unfriend/", views.unfriend, name="friend-unfriend"),
    path("blocks/", views.block, name="friend-block"),
    path("blocks/remove/", views.unblock, name="friend-unblock"),
    path("invitations/", views.invitation_create, name="invitation-create"),
    path("invite/<str:token>/", views.invitation_page, name="invitation"),
]
