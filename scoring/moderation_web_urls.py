from django.urls import path

from scoring import moderation_views as views

urlpatterns = [
    path("score/events/<int:event_id>/dispute/", views.event_dispute, name="event-dispute"),
    path("report/", views.flag_member, name="flag-member"),
    path("settings/data/", views.my_data, name="my-data"),
    path("settings/data/export/", views.data_export, name="data-export"),
    path("settings/delete/", views.account_delete, name="account-delete"),
]
