"""Listen addresses as hth.json writes them (`host:port`, `[v6]:port`, `:port`): split into
host and port, and whether a host is loopback-only."""

from __future__ import annotations

import ipaddress


def split_addr(addr: str) -> tuple[str, int]:
    """`docker_registry.http.addr` as (host, port); no host means every interface."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
