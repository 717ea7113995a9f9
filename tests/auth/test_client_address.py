"""The client address behind proxies, as the login limiter, the audit log and the access log
see it: X-Forwarded-For counts only from `docker_registry.http.trusted_proxies`, and then
only up to the first hop that is not a trusted proxy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.auth import SERVICE, AuthRegistry

LIMITS = {"login_attempts": 2, "login_window": "10m"}
JSON_LOG = {"logging": {"level": "info", "format": "json"}}


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """No trusted proxy: the default."""
    registry = AuthRegistry.start(tmp_path_factory.mktemp("direct"), {"auth": LIMITS, **JSON_LOG})
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """Behind trusted proxies: loopback (where the test connects from) and 10.0.0.0/8."""
    http = {"http": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}}
    extra = {"auth": LIMITS, "docker_registry": http, **JSON_LOG}
    registry = AuthRegistry.start(tmp_path_factory.mktemp("proxied"), extra)
    yield registry
    registry.stop()


def _login(registry: AuthRegistry, auth: tuple[str, str], *forwarded: str) -> httpx.Response:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    with registry.client(auth) as http:
        return http.get("/auth/token", params={"service": SERVICE}, headers=headers)


def _seen_as(registry: AuthRegistry, *forwarded: str) -> tuple[str, str | None]:
    """(audit source, access log client) of an admin's call carrying these headers."""
    name = f"seen/{uuid.uuid4().hex[:8]}"
    headers = [("X-Forwarded-For", value) for value in forwarded]
    with registry.admin() as http:
        assert http.delete(f"/api/v1/repositories/{name}", headers=headers).status_code < 500
        events = http.get("/api/v1/audit", params={"target": name}).json()["items"]
    access = [e for e in _log(registry) if e.get("logger") == "hth.access" and name in e["path"]]
    return events[0]["source"], access[0]["client"] if access else None


def _log(registry: AuthRegistry) -> list[dict[str, Any]]:
    lines = registry.server.log_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_without_trusted_proxies_a_forged_address_does_not_dodge_the_limiter(
    direct: AuthRegistry,
) -> None:
    user = direct.create_user(f"f{uuid.uuid4().hex[:6]}")
    failures = [_login(direct, (user[0], "wrong-guess"), f"203.0.113.{n}") for n in (1, 2)]
    right = _login(direct, user, "198.51.100.99")

    assert [r.status_code for r in failures] == [401, 401]
    assert right.status_code == 429
    assert right.json()["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_without_trusted_proxies_a_forged_address_is_not_the_audit_source(
    direct: AuthRegistry,
) -> None:
    assert _seen_as(direct, "203.0.113.50") == ("127.0.0.1", "127.0.0.1")


def test_behind_a_trusted_proxy_each_forwarded_address_is_limited_on_its_own(
    proxied: AuthRegistry,
) -> None:
    user = proxied.create_user(f"p{uuid.uuid4().hex[:6]}")
    failures = [_login(proxied, (user[0], "wrong-guess"), "203.0.113.7") for _ in range(2)]
    locked = _login(proxied, user, "203.0.113.7")
    other_client = _login(proxied, user, "198.51.100.8")
    the_proxy_itself = _login(proxied, user)

    assert [r.status_code for r in failures] == [401, 401]
    assert locked.status_code == 429
    assert other_client.status_code == 200
    assert the_proxy_itself.status_code == 200


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["198.51.100.4"], "198.51.100.4"),
        # A client's own claim on the left is passed over for the hop a proxy saw.
        (["203.0.113.1, 198.51.100.2, 10.1.2.3"], "198.51.100.2"),
        (["203.0.113.1, 198.51.100.2", "10.1.2.3"], "198.51.100.2"),  # two header lines
        (["[2001:db8::7]:4711, 10.1.2.3"], "2001:db8::7"),
        (["10.0.0.1, 10.0.0.2"], "10.0.0.1"),  # every hop trusted: the furthest one
        (["not-an-address, 10.1.2.3"], "10.1.2.3"),  # garbage: the nearest trusted hop
    ],
    ids=["one-hop", "untrusted-in-the-middle", "two-lines", "ipv6-port", "all-trusted", "junk"],
)
def test_behind_a_trusted_proxy_the_first_untrusted_hop_is_the_audit_source(
    proxied: AuthRegistry, forwarded: list[str], client: str
) -> None:
    assert _seen_as(proxied, *forwarded) == (client, client)
