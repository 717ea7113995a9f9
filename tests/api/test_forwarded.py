"""api.forwarded: which hop of X-Forwarded-For is the client, for trusted and untrusted peers.
(The same through a running registry: tests/auth/test_client_address.py.)"""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from api.forwarded import MAX_HOPS, TrustedProxies, parse_hop

PROXIES = TrustedProxies([ip_network("127.0.0.1"), ip_network("10.0.0.0/8")])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.1", ["203.0.113.9"], "192.0.2.1"),  # an untrusted peer's header is ignored
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.9, 10.2.3.4"], "203.0.113.9"),
        ("127.0.0.1", ["1.1.1.1, 203.0.113.9", "10.2.3.4"], "203.0.113.9"),
        ("127.0.0.1", ["10.0.0.1,10.0.0.2"], "10.0.0.1"),
        ("127.0.0.1", ["junk, 10.0.0.2"], "10.0.0.2"),
        ("127.0.0.1", [""], "127.0.0.1"),
        ("::ffff:127.0.0.1", ["203.0.113.9"], "203.0.113.9"),  # dual-stack view of IPv4
        ("127.0.0.1", ["203.0.113.9:4711"], "203.0.113.9"),
        ("127.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert TrustedProxies([]).client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"


def test_a_header_longer_than_any_chain_of_proxies_is_walked_only_so_far() -> None:
    hops = ", ".join(["203.0.113.1"] + ["10.0.0.7"] * (MAX_HOPS + 5))
    assert PROXIES.client("127.0.0.1", [hops]) == "10.0.0.7"


@pytest.mark.parametrize("text", ["", "unknown", "_hidden", "1.2.3.4.5", "[::1", "300.1.1.1"])
def test_what_is_not_an_address_is_no_hop(text: str) -> None:
    assert parse_hop(text) is None
