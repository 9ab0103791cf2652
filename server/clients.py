"""Who is calling: the client address and scheme, believing forwarded headers only from proxies
listed in `PORTAL_TRUSTED_PROXIES`.

The pipeline rewrites `scope["client"]` and `scope["scheme"]` once, first thing, so
everything downstream (the vote rate limit, Secure cookies, same-origin checks) sees the real
client without knowing about proxies. A forwarded header from any other peer is ignored: it is
whatever the client chose to write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

from server.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAX_HOPS = 32  # a longer chain is garbage or an attack; the rightmost hops are what matter


def parse_ip(text: str) -> IPAddress | None:
    """An IP address from a header value: bare, `[v6]`, `v4:port` or `[v6]:port`; None if not."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if not text or len(text) > 45:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: IPAddress | None, proxies: Iterable[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in proxies)


def forwarded_client(
    peer: IPAddress | None, forwarded_for: list[str], proxies: tuple[IPNetwork, ...]
) -> IPAddress | None:
    """The client behind a trusted peer: the rightmost X-Forwarded-For hop that is not itself a
    trusted proxy. Hops left of it were written by the client and prove nothing."""
    if not is_trusted(peer, proxies):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")][-_MAX_HOPS:]
    nearest = peer
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            # A trusted proxy passed on something that is no address: stop at the last hop known.
            return nearest
        if not is_trusted(address, proxies):
            return address
        nearest = address
    return nearest


def forwarded_scheme(value: str) -> str | None:
    """The scheme the last proxy saw (`https`), from X-Forwarded-Proto; None if unusable."""
    scheme = value.split(",")[-1].strip().lower()
    return scheme if scheme in ("http", "https", "ws", "wss") else None


def apply_forwarded(scope: Scope, proxies: tuple[IPNetwork, ...]) -> None:
    """Rewrites `scope["client"]` and `scope["scheme"]` in place (as the router does: outer
    layers read what inner ones add) when the peer is a trusted proxy."""
    client = scope.get("client")
    peer = parse_ip(client[0]) if client else None
    if not proxies or not is_trusted(peer, proxies):
        return
    forwarded_for: list[str] = []
    proto: str | None = None
    for key, value in scope["headers"]:
        if key == b"x-forwarded-for":
            forwarded_for.append(value.decode("latin-1"))
        elif key == b"x-forwarded-proto":
            proto = value.decode("latin-1")  # the last one, as the last proxy wrote it
    address = forwarded_client(peer, forwarded_for, proxies)
    if address is not None:
        scope["client"] = (str(address), 0)
    if proto is not None:
        scheme = forwarded_scheme(proto)
        if scheme is not None:
            if scope["type"] == "websocket":
                scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
            elif scheme in ("ws", "wss"):
                scheme = {"ws": "http", "wss": "https"}[scheme]
            scope["scheme"] = scheme


def client_address(scope: Scope) -> IPAddress | None:
    """The (proxy-corrected) client address of a request, if it came over IP."""
    client = scope.get("client")
    return parse_ip(client[0]) if client else None
