"""Development on a laptop: the embedded default unless DATABASE_URL / REDIS_URL say otherwise."""

from config.kernel.env import env_bool
from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

DEBUG = env_bool("DEBUG", True)
# Static files straight from the source folders (no collectstatic, no manifest); every other
# storage, the members' exports among them, stays as base.py defines it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
