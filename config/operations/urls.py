"""The operations paths, for ``reverse`` and the API document; ``middleware`` answers them first."""

from django.urls import path

from config.operations.health import LiveView, ReadyView
from config.operations.metrics import MetricsView

urlpatterns = [
    path("health/live", LiveView.as_view(), name="health-live"),
    path("health/ready", ReadyView.as_view(), name="health-ready"),
    path("metrics", MetricsView.as_view(), name="metrics"),
]
