"""Production: services mode behind TLS. Every secret comes from the environment."""

from django.core.exceptions import ImproperlyConfigured

from config.kernel.env import env_bool, env_int, env_list, env_str
from config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY or SECRET_KEY.startswith("dev-only"):
    raise ImproperlyConfigured("Set SECRET_KEY (a long random string) for production.")

# /metrics behind TLS: a proxy on the same host makes every client look like 127.0.0.1 unless
# TRUSTED_PROXIES counts it, so loopback alone is no proof here. Scrape with METRICS_TOKEN, or name
# the scrapers' networks in METRICS_ALLOWED_IPS.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
# Webhooks go to https URLs on public addresses only, whatever the environment says.
WEBHOOKS_ALLOW_LOCAL = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
