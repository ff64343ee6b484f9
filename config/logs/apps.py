from django.apps import AppConfig


class LogsConfig(AppConfig):
    """Connects the receivers that shape request and task lines (``config.logs.receivers``)."""

    name = "config.logs"
    label = "credo_logs"

    def ready(self) -> None:
        from config.logs import receivers  # noqa: F401  (connects the receivers once apps are loaded)
