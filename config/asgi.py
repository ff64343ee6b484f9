"""ASGI entry point: HTTP (Django) and WebSockets (Channels) on one server."""

import os
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class SyncStackASGIHandler(ASGIHandler):
    """Django's ASGI handler, running the middleware and the view in one thread per request.

    Every HTTP view here is sync (DRF, forms, the ORM), and so is most of ``MIDDLEWARE``. The
    stock handler builds an async middleware chain: it hops between the event loop and a thread
    around each run of sync-only middleware, around every hook of the async-capable
    ``MiddlewareMixin`` ones (sessions, CSRF, messages…: ``sync_to_async`` per
    ``process_request`` / ``process_response``), and again for the view. Here the chain is built
    as under WSGI (and as the test client runs it) and entered once, in the request's
    thread-sensitive thread: 0.4-0.9 ms less server CPU on a signed single event of ≈ 3.6-4.3
    ms (docs/benchmarks.md, "Ingestion and scoring"; making every middleware async-capable
    instead cost more, as Django's own run each hook through ``sync_to_async``). Reading the
    body, sending the response and WebSockets stay async.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: Any = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Set up Django before importing anything that touches models (as get_asgi_application does).
django.setup(set_prefix=False)
django_asgi_app = SyncStackASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.logs.sockets import SocketLogMiddleware  # noqa: E402
from config.ws import origin_checked  # noqa: E402
from leaderboards.sockets.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SocketLogMiddleware(origin_checked(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
