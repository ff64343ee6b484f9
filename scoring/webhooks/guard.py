"""No server-side request forgery through a partner's webhook URL.

Outside development a webhook URL must be ``https`` and every address its host resolves to
must be public: loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
multicast, reserved and unspecified addresses are refused — an IPv4 address written as IPv6
(``::ffff:10.0.0.1``) as the address it is. The check runs when the URL is configured and
again at every delivery, on the addresses the delivery then connects to (``destination``): a
host that resolved to a public address yesterday may resolve to 127.0.0.1 today (DNS
rebinding), and the request goes to the very address that was checked, never resolved again.

Development (``settings.WEBHOOKS_ALLOW_LOCAL``: on with DEBUG in ``config.settings.local``, off
everywhere else unless set) accepts ``http`` and local addresses, so a receiver on the laptop
works; the tests set it explicitly where they use a loopback receiver.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

from config.kernel.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrlCode:
    SCHEME = "webhook_url_scheme"
    ADDRESS = "webhook_url_address"
    UNRESOLVED = "webhook_url_unresolved"
    INVALID = "webhook_url_invalid"


class UnsafeUrl(DomainError):
    """A webhook URL we will not call: 400 with one of ``UnsafeUrlCode``."""

    status, code, detail = 400, UnsafeUrlCode.ADDRESS, "This webhook URL points at an address we do not call."


@dataclass(frozen=True)
class Destination:
    """Where one delivery connects: ``address`` (checked) for the URL's ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (the Host header and TLS name
        stay the host's: ``delivery`` sends them)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()


def url_for_log(url: str) -> str:
    """``url`` without its query and fragment, for logs and operators' mail: a partner may put a
    token there (``?access_token=…``)."""
    try:
        return urlsplit(url)._replace(query="", fragment="").geturl()
    except ValueError:
        return "<invalid url>"


def allow_local() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_LOCAL)


#: IPv6 ranges that carry an IPv4 address or reach a private network, yet count as "global" to
#: ``ipaddress``: NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16), Teredo (2001::/32), the
#: deprecated IPv4-compatible (::/96) and site-local (fec0::/10) forms. Refused outright: behind a
#: NAT64 gateway 64:ff9b::a00:5 is 10.0.0.5.
_IPV6_TUNNELS = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32",
                                                    "::/96", "fec0::/10")]


def _refused(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.version == 6 and any(address in network for network in _IPV6_TUNNELS):
        return True
    return not address.is_global or address.is_multicast


def url_parse(url: str) -> SplitResult:
    """The URL's parts, or ``UnsafeUrl``: a scheme we call, a host, no user info."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("This is not a valid URL.", code=UnsafeUrlCode.INVALID) from exc
    allowed = ("https", "http") if allow_local() else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("Webhook URLs must use https.", code=UnsafeUrlCode.SCHEME)
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise UnsafeUrl("A webhook URL needs a host and no user name or password.", code=UnsafeUrlCode.INVALID)
    if port == 0:
        raise UnsafeUrl("This is not a valid URL.", code=UnsafeUrlCode.INVALID)
    if not parts.hostname.isascii():
        raise UnsafeUrl("Write the host in its ASCII form (xn--…).", code=UnsafeUrlCode.INVALID)
    return parts


def destinations(url: str) -> list[Destination]:
    """The addresses a delivery to ``url`` may connect to, resolved now, each of them allowed —
    or ``UnsafeUrl`` (any refused address refuses the URL: which one a client picks is not ours
    to choose)."""
    parts = url_parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"The host {host} does not resolve.", code=UnsafeUrlCode.UNRESOLVED) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise UnsafeUrl(f"The host {host} does not resolve.", code=UnsafeUrlCode.UNRESOLVED)
    if not allow_local():
        refused = [a for a in addresses if _refused(a)]
        if refused:
            # Which address is not said: the answer would map names of networks not the partner's.
            raise UnsafeUrl(f"The host {host} resolves to a private or reserved address: webhooks go to public "
                            "addresses only.", code=UnsafeUrlCode.ADDRESS)
    return [Destination(url=url, scheme=parts.scheme, host=host, port=port, address=a) for a in addresses]
