"""The client's address, believing ``X-Forwarded-For`` only from the proxies a setting names.

The server runs uvicorn without its proxy-headers middleware (``seleksi serve``), whose
default believes the header from 127.0.0.1: any program on the server could then claim
any address. Here the socket's peer is the client unless it is a trusted proxy
(``SELEKSI_TRUSTED_PROXIES``, none by default); then the header is read from the right,
past every trusted proxy, and the first address no trusted proxy holds is the client.
Hand-written, as Litestar has no trusted-proxy handling of its own and uvicorn's
middleware rewrites the scope for the whole process from its own setting.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import cache

from litestar.connection import ASGIConnection

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_KEY = "client_address"


@cache
def networks(entries: tuple[str, ...]) -> tuple[_IPNetwork, ...]:
    """The trusted proxies' networks (``Settings.trusted_proxies``, validated there)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(ip, proxies: Sequence[_IPNetwork]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in proxies)


def derive(peer: str, forwarded_for: Sequence[str], proxies: Sequence[_IPNetwork]) -> str:
    """The client address from the socket's ``peer`` and the ``X-Forwarded-For`` headers'
    values in order. A hop that is not an address ends the walk: the proxy that passed it
    on is the client then."""
    current = peer
    if not _trusted(_ip(peer), proxies):
        return current
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return current
        current = str(ip)
        if not _trusted(ip, proxies):
            return current
    return current


def client_address(connection: ASGIConnection) -> str:
    """The request's client address (computed once per request)."""
    state = connection.scope.setdefault("state", {})
    found = state.get(_KEY)
    if found is None:
        peer = connection.client.host if connection.client else ""
        proxies = networks(tuple(connection.app.state.settings.trusted_proxies))
        given = connection.headers.getall("x-forwarded-for", []) if proxies else []
        found = state[_KEY] = derive(peer, given, proxies)
    return found
