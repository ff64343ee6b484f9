"""Members' data rights on the web: see, export and delete their data."""

from django.urls import path

from accounts.privacy import views

urlpatterns = [
    path("settings/data/", views.my_data, name="my-data"),
    path("settings/data/export/", views.data_export, name="data-export"),
    path("settings/delete/", views.account_delete, name="account-delete"),
]
