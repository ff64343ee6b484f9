"""The test suite.

The database is whatever DATABASE_URL says (PostgreSQL in CI). Ordinary tests run tasks
in-process and use the in-memory channel layer so each test is self-contained; tests marked
``services`` build their own Redis-backed layer, Celery app and worker from REDIS_URL.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
SERVICES_MODE = False
# Kept for the services tests, which read it to reach the real Redis.
TEST_REDIS_URL = REDIS_URL
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "1000/minute", "user": "5000/minute",
                                            "auth": "1000/minute"}
AXES_FAILURE_LIMIT = 5
# The admin's second factor is switched on by the tests that show it (tests/accounts/auth/):
# the others log moderators in with force_login and test what they do there.
ADMIN_MFA_REQUIRED = False
