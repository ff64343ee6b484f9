"""Members' data rights on the REST API, included under /api/v1/: export and deletion."""

from django.urls import path

from accounts.privacy import api

urlpatterns = [
    path("me/export/", api.MyExportsView.as_view(), name="api-my-exports"),
    path("me/export/<int:export_id>/", api.MyExportView.as_view(), name="api-my-export"),
    path("me/export/<int:export_id>/download/", api.MyExportDownloadView.as_view(), name="api-my-export-download"),
    path("me/delete/", api.MyAccountDeleteView.as_view(), name="api-my-delete"),
]
