"""A database that is briefly away is a 503 with ``Retry-After``, not a 500 or a long stall.

The connection pool waits at most ``DB_POOL_TIMEOUT`` seconds for a connection (settings), and
a request whose database failed transiently — the pool found none in time, the connection was
cut (a restart, ``pg_terminate_backend``), a lock conflict its view did not retry — is answered
``503 {"code": "service_unavailable", "detail", "reason"}`` (``reason``: ``connection``,
``deadlock``… from ``config.kernel.retry.kind``) with ``Retry-After``: clients and partners back off
and send again, and nothing is half-written (the request's transaction rolled back). Any other
error stays a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.kernel.retry import kind

logger = logging.getLogger(__name__)

#: What the answer's ``code`` says, and how long it asks clients to wait (seconds).
SERVICE_UNAVAILABLE = "service_unavailable"
RETRY_AFTER_SECONDS = 2


def unavailable_response(request: HttpRequest, reason: str) -> HttpResponse:
    detail = "The service is briefly unavailable; nothing was changed. Retry shortly."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": SERVICE_UNAVAILABLE, "detail": detail, "reason": reason},
                                              status=503)
    else:
        response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a transient database failure raised by a view into ``unavailable_response``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = kind(exception)
        if reason is None:
            return None
        # The route, not the path: a path can hold a token or a username (config.logs).
        route = request.resolver_match.route if request.resolver_match else "<unmatched>"
        logger.warning("answered 503 to %s /%s: transient database failure (%s): %s", request.method, route,
                       reason, str(exception).splitlines()[0] if str(exception) else type(exception).__name__)
        return unavailable_response(request, reason)
