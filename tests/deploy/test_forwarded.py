"""deploy/nginx/nginx.conf in front of a registry that trusts nginx's address alone (as
deploy/hth.json does in compose): a client's own X-Forwarded-For changes nothing, the address
nginx saw is the one limited and audited, and a client that reaches the registry directly
cannot claim to be anyone. nginx connects from 127.0.0.7 and clients from other loopback
addresses, so each party has an address of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from testbed.processes import wait_http
from tests.deploy.nginx_conf import Nginx
from tests.support.auth import ADMIN, SERVICE, AuthRegistry

NGINX_SOURCE = "127.0.0.7"
FORGED = {"X-Forwarded-For": "203.0.113.9"}


@dataclass
class Fronted:
    registry: AuthRegistry
    nginx: Nginx

    def client(self, source: str, auth: tuple[str, str] | None = None) -> httpx.Client:
        """Through nginx, connecting from `source`."""
        transport = httpx.HTTPTransport(local_address=source, verify=str(self.nginx.cert))
        url = f"https://127.0.0.1:{self.nginx.port}"
        return httpx.Client(base_url=url, auth=auth, transport=transport, timeout=30)


@pytest.fixture(scope="module")
def fronted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fronted]:
    base = tmp_path_factory.mktemp("forwarded")
    extra = {
        "docker_registry": {"http": {"trusted_proxies": [NGINX_SOURCE]}},
        "auth": {"login_attempts": 2, "login_window": "10m"},
    }
    registry = AuthRegistry.start(base / "registry", extra)
    nginx = Nginx(base / "nginx", upstreams=[registry.server.port], source=NGINX_SOURCE)
    try:
        nginx.start()
        wait_http(f"https://127.0.0.1:{nginx.port}/healthz", proc=nginx.proc)
        yield Fronted(registry, nginx)
    finally:
        nginx.stop()
        registry.stop()


def _audit_source(fronted: Fronted, http: httpx.Client) -> str:
    name = f"seen/{uuid.uuid4().hex[:8]}"
    assert http.delete(f"/api/v1/repositories/{name}", headers=FORGED).status_code < 500
    with fronted.registry.admin() as admin:
        events = admin.get("/api/v1/audit", params={"target": name}).json()["items"]
    source: str = events[0]["source"]
    return source


def test_through_nginx_the_address_nginx_saw_is_audited_not_the_clients_claim(
    fronted: Fronted,
) -> None:
    with fronted.client("127.0.0.2", ADMIN) as http:
        assert _audit_source(fronted, http) == "127.0.0.2"


def test_a_client_reaching_the_registry_directly_cannot_claim_an_address(
    fronted: Fronted,
) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=fronted.registry.url, auth=ADMIN, transport=transport) as http:
        assert _audit_source(fronted, http) == "127.0.0.3"


def test_through_nginx_the_limiter_counts_the_address_nginx_saw(fronted: Fronted) -> None:
    user = fronted.registry.create_user(f"n{uuid.uuid4().hex[:6]}")
    params = {"service": SERVICE}
    with fronted.client("127.0.0.4", (user[0], "wrong-guess")) as http:
        failures = [
            http.get("/auth/token", params=params, headers={"X-Forwarded-For": f"192.0.2.{n}"})
            for n in (1, 2)
        ]
    with fronted.client("127.0.0.4", user) as http:
        locked = http.get("/auth/token", params=params, headers={"X-Forwarded-For": "192.0.2.3"})
    with fronted.client("127.0.0.5", user) as http:
        elsewhere = http.get("/auth/token", params=params)

    assert [r.status_code for r in failures] == [401, 401]
    assert locked.status_code == 429
    assert elsewhere.status_code == 200
