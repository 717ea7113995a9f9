"""The client's address behind proxies: `X-Forwarded-For` is believed only from the peers of
`docker_registry.http.trusted_proxies`, and then only up to the first hop they do not trust.
The outermost middleware puts that address in the ASGI scope, so the login limiter, the
audit log's `source` and the access log all see the same one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from starlette.types import ASGIApp, Receive, Scope, Send

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# More hops than any real chain of proxies: a longer header is not walked further.
MAX_HOPS = 32


def parse_hop(text: str) -> Address | None:
    """One entry of X-Forwarded-For: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[::1]:80`."""
    text = text.strip()
    if text.startswith("["):
        text, closed, _port = text[1:].partition("]")
        if not closed:
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address


class TrustedProxies:
    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The first hop, walking from the peer leftwards, that is not a trusted proxy.

        A hop that is not an address stops the walk at the trusted hop right of it: only
        trusted proxies wrote what lies right of the first untrusted hop, but none of it
        can be used as an address.
        """
        nearest = parse_hop(peer)
        if not self.networks or not self.trusts(nearest):
            return peer
        hops = [hop for value in forwarded_for for hop in value.split(",")][-MAX_HOPS:]
        for text in reversed(hops):
            hop = parse_hop(text)
            if hop is None:
                break
            nearest = hop
            if not self.trusts(hop):
                break
        return str(nearest)


class ForwardedMiddleware:
    """Rewrites `scope["client"]` (and `scope["scheme"]` from X-Forwarded-Proto) for
    requests whose peer is a trusted proxy; leaves every other request as it came."""

    def __init__(self, app: ASGIApp, networks: Iterable[Network]) -> None:
        self.app = app
        self.proxies = TrustedProxies(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.proxies.networks:
            self._rewrite(scope, str(client[0]))
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope, peer: str) -> None:
        if not self.proxies.trusts(parse_hop(peer)):
            return
        forwarded, proto = [], None
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        host = self.proxies.client(peer, forwarded)
        if host != peer:
            scope["client"] = (host, 0)
        if proto in ("http", "https") and scope["type"] == "http":
            scope["scheme"] = proto
