"""Who is on the other end: the one definition of a client's address (throttles, lockout, allauth).

``X-Forwarded-For`` is written by whoever sends the request, so it says nothing until a proxy of
ours appends to it. ``settings.TRUSTED_PROXIES`` is how many such proxies stand in front of the
application (each appends the address it received the request from); 0, the default, trusts
none: the client is the socket's peer (``REMOTE_ADDR``) and the header is ignored. With ``n``
proxies the client is the ``n``-th address from the right, the one our outermost proxy saw; what
the client itself put to the left of it is never read. DRF's ``NUM_PROXIES`` and allauth's
``TRUSTED_PROXY_COUNT`` mean the same count.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str | None:
    """The client's address of a Django request (or anything with ``META``); None if unknown."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or None
    proxies = int(getattr(settings, "TRUSTED_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    # Fewer entries than proxies: the request skipped an outer proxy; the leftmost entry is then
    # the address the first proxy of ours saw (as DRF reads it).
    return addresses[-min(proxies, len(addresses))]
