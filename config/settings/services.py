"""Services mode on one machine (the README's recipe): PostgreSQL, Redis, Celery and uvicorn,
with DEBUG off.

Production's settings less what needs TLS in front: the recipe serves plain HTTP, so TLS
redirects, HSTS and secure-only cookies default off here (each can be turned on by its variable).
Anything reachable from other machines runs ``config.settings.production`` behind TLS.
``SECRET_KEY`` is required, as in production; ``REDIS_URL`` too (that is what services mode is).
"""

from django.core.exceptions import ImproperlyConfigured

from config.kernel.env import env_bool, env_int, env_list, env_str
from config.settings.production import *  # noqa: F403
from config.settings.production import SERVICES_MODE

if not SERVICES_MODE:
    raise ImproperlyConfigured("config.settings.services runs services mode: set REDIS_URL (and DATABASE_URL).")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Bound to 127.0.0.1 with nothing in front: the loopback is the machine itself (as in base).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.0/8", "::1"])
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
