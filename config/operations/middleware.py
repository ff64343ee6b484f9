"""Probes and scrapes are answered first, before the rest of the middleware.

A load balancer probes a node by its address (a ``Host`` not in ``ALLOWED_HOSTS``) and over plain
HTTP inside the network (production's TLS redirect would send it elsewhere); Prometheus scrapes
the same way. Neither needs a session, a CSRF token, a member, a lockout check or a security
header, and every probe would pay for them. So this middleware, first in ``MIDDLEWARE``, hands
the operations paths (``settings.OPERATIONS_PATHS``) straight to their views and returns; the
views never read the host. The request log leaves the same paths out (``OPERATIONS_PATHS`` is
the one list of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from config.operations.health import LiveView, ReadyView
from config.operations.metrics import MetricsView

#: Each operations path and its view.
VIEWS: dict[str, Callable[..., Any]] = {
    "/health/live": LiveView.as_view(),
    "/health/ready": ReadyView.as_view(),
    "/metrics": MetricsView.as_view(),
}


class OperationsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = VIEWS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        response = view(request)
        # A DRF response is rendered by Django's handler after the view; this one skipped it.
        rendered: HttpResponse = response.render() if hasattr(response, "render") else response
        return rendered
