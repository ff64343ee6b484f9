"""The request line and the request id (django-structlog's middleware, with our id rules).

An upstream (a load balancer, a partner) may send ``X-Request-ID``: it is kept only when it is
1 to 64 characters of letters, digits, ``-``, ``_``, ``.`` and ``:`` (a UUID, a trace id), so a
client cannot write arbitrary text — a newline, markup, a megabyte — into every line of its
request; otherwise the request gets a new UUID. Either way the id is bound for everything logged
while the request runs (and for the tasks it enqueues) and echoed in the response's
``X-Request-ID``, so a partner or an operator can quote it.

A request is named by its URL route (``GET /api/v1/friends/<str:username>/``), never by its path
or query string: paths hold invitation tokens and usernames, query strings search terms and socket
tickets. A path that matches no route is named ``<unmatched>``.

Operational endpoints (``LOG_QUIET_PATHS``: health checks, metrics) get the id but no line: a
load balancer polling them every few seconds would drown the log.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django_structlog.middlewares.request import RequestMiddleware

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "<unmatched>"


def request_id_new() -> str:
    return str(uuid.uuid4())


def request_id_accepted(value: str | None) -> str | None:
    """``value`` when it is a well-formed request id, else ``None``."""
    if value is not None and _WELL_FORMED.fullmatch(value):
        return value
    return None


def request_route(request: HttpRequest) -> str:
    """``METHOD /route/pattern/`` of a request."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return f"{request.method} {UNMATCHED}"
    return f"{request.method} /{match.route}"


class RequestLogMiddleware(RequestMiddleware):
    """django-structlog's ``RequestMiddleware``: binds ``request_id`` (and ``user_id``) and writes
    ``request_finished`` (``request_failed`` on an exception) — here only with a well-formed
    upstream id, echoed back, and without a line for ``LOG_QUIET_PATHS``."""

    async_capable = False  # the house's ASGI handler runs the middleware chain synchronously

    def __call__(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        request_id = request_id_accepted(request.META.get(_META_KEY)) or request_id_new()
        # django-structlog binds the header's value (DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID).
        request.META[_META_KEY] = request_id
        request.__dict__.pop("headers", None)  # HttpRequest.headers is cached from META
        if request.path_info.startswith(tuple(settings.LOG_QUIET_PATHS)):
            response: HttpResponse = self.get_response(request)  # type: ignore[assignment]
        else:
            response = super().__call__(request)  # type: ignore[assignment]
        response[HEADER] = request_id
        return response

    @staticmethod
    def format_request(request: HttpRequest) -> str:
        return request_route(request)
