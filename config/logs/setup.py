"""The ``LOGGING`` dictionary and structlog's configuration, one place for every settings module.

Every line — structlog's and the standard library's (Django, Celery, uvicorn, ours) — goes through
the same ``ProcessorFormatter``: the bound context (request id, task id, member id), level, logger
name and time are added, secrets are redacted (``config.logs.redaction``), then one renderer
writes it: JSON, one object per line (production, services mode), or a readable line (``make
run``; ``LOG_FORMAT=console``).
"""

from __future__ import annotations

from typing import Any

import structlog

from config.logs.redaction import redact

FORMATS = ("json", "console")

#: Added to a standard-library record before it is rendered (structlog's events have them already).
_FOREIGN_PRE_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def structlog_configure() -> None:
    """structlog's loggers (django-structlog's among them) hand their events to the standard
    library, whose handlers render them with :func:`formatter`."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            # Here too, so a handler that is not ours (a test's caplog) never sees a secret either.
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every handler: ``json`` or ``console``."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0))
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        foreign_pre_chain=_FOREIGN_PRE_CHAIN,
    )


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """Django's ``LOGGING``: one console handler with :func:`formatter`, the root at ``level``."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    quiet = {"level": "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "config.logs.setup.formatter", "fmt": fmt}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Listed to drop the handlers Django's DEFAULT_LOGGING gives it: its lines reach ours.
            "django": {},
            "django.db.backends": quiet,
            # django-structlog writes the request and task lines; these would repeat them.
            "django.request": {"level": "CRITICAL"},
            "celery.app.trace": quiet,
            "celery.worker.strategy": quiet,
            # One line per second for the batch scorer: the worker's task lines say it all.
            "celery.beat": quiet,
            # A line per webhook delivery (httpx's request log): the delivery attempts are kept, and
            # shown in the admin and to the partner.
            "httpx": quiet,
            # uvicorn's own lines through ours; its handshake lines name the client's address and
            # the query string (a socket ticket): config.logs.sockets writes those lines instead.
            "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
