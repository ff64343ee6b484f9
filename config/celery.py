"""The Celery app. Workers: ``celery -A config worker`` (services mode, REDIS_URL set)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("credo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Each task's live messages leave in one hop at its end (leaderboards.broadcast.batch): a scoring
# or contagion batch publishes for hundreds of members.
@task_prerun.connect
def _broadcast_batch_open(**_: object) -> None:
    from leaderboards import broadcast

    broadcast.batch_open()


@task_postrun.connect
def _broadcast_batch_close(**_: object) -> None:
    from leaderboards import broadcast

    broadcast.batch_close()
