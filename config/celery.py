"""The Celery app. Workers: ``celery -A config worker`` (services mode, REDIS_URL set)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("credo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
