"""Development on a laptop: the embedded default unless DATABASE_URL / REDIS_URL say otherwise.

The only settings where DEBUG can be on (it is by default here), and then only for requests from
this machine (``config.kernel.loopback``): ``make run`` serves 127.0.0.1. Services mode on one
machine runs ``config.settings.services`` (DEBUG off), production ``config.settings.production``.

``make run``'s terminal stays quiet: no line per request or socket unless CREDO_REQUEST_LOG=1 (``make
run REQUESTS=1``; readable lines, with their request ids), no line per in-process task, and the
emails a member is told to look for (sign-up confirmation, password reset) printed in a framed block.
"""

from typing import Any

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

from config.kernel.env import env_bool, env_str
from config.logs.setup import logging_config
from config.settings.base import *  # noqa: F403
from config.settings.base import MIDDLEWARE, STORAGES

DEBUG = env_bool("DEBUG", True)
if DEBUG:
    # First: nothing runs (and no debug page renders) for a request from another machine.
    MIDDLEWARE = ["config.kernel.loopback.LoopbackOnlyMiddleware", *MIDDLEWARE]
# A webhook receiver on this machine (http, 127.0.0.1) is fine while developing (scoring.webhooks.guard).
WEBHOOKS_ALLOW_LOCAL = env_bool("WEBHOOKS_ALLOW_LOCAL", DEBUG)
# Static files straight from the source folders (no collectstatic, no manifest); every other
# storage, the members' exports among them, stays as base.py defines it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


class FramedConsoleEmailBackend(ConsoleEmailBackend):
    """The console backend, each email framed so it stands out in the server's output, its text
    as written (links unwrapped, no MIME encoding)."""

    def write_message(self, message: Any) -> None:
        bar = "=" * 72
        self.stream.write(f"\n{bar}\n EMAIL to {', '.join(message.to)}\n Subject: {message.subject}\n{bar}\n")
        self.stream.write(str(message.body).rstrip() + "\n")
        self.stream.write(f"{bar}\n\n")


EMAIL_BACKEND = env_str("EMAIL_BACKEND", "config.settings.local.FramedConsoleEmailBackend")

REQUEST_LOG = env_bool("CREDO_REQUEST_LOG", False)
# Readable lines here (config.logs); LOG_FORMAT=json shows what production writes.
LOG_FORMAT = env_str("LOG_FORMAT", "console")
_logging: dict[str, Any] = logging_config(fmt=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
_request_lines = "INFO" if REQUEST_LOG else "ERROR"
LOGGING = {
    **_logging,
    "loggers": {
        **_logging["loggers"],
        # One line per request and per socket, with its request id, only when asked for; the
        # server's own access line gives way to it then.
        "django_structlog.middlewares": {"level": _request_lines},
        "config.logs.sockets": {"level": _request_lines},
        "django.channels.server": {"level": "ERROR" if REQUEST_LOG else "WARNING"},
        # In-process tasks, the lockout library and the server's start-up chatter: warnings only.
        **{name: {"level": "WARNING"} for name in ("celery", "django_structlog.celery", "axes", "daphne",
                                                   "django.utils.autoreload")},
        "kombu": {"level": "ERROR"},
    },
}
