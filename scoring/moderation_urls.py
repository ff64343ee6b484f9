from django.urls import path

from scoring import moderation_api as api

urlpatterns = [
    path("me/events/<int:event_id>/dispute/", api.DisputeView.as_view(), name="api-event-dispute"),
    path("me/disputes/", api.MyDisputesView.as_view(), name="api-my-disputes"),
    path("me/notices/", api.MyNoticesView.as_view(), name="api-my-notices"),
    path("me/notices/read/", api.MyNoticesReadView.as_view(), name="api-my-notices-read"),
    path("flags/", api.FlagsView.as_view(), name="api-flags"),
    path("me/export/", api.MyExportsView.as_view(), name="api-my-exports"),
    path("me/export/<int:export_id>/", api.MyExportView.as_view(), name="api-my-export"),
    path("me/export/<int:export_id>/download/", api.MyExportDownloadView.as_view(), name="api-my-export-download"),
    path("me/delete/", api.MyAccountDeleteView.as_view(), name="api-my-delete"),
]
