"""A registry started with auth on, and helpers to manage its users and get its tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from testbed.processes import RegistryProcess, deep_merge

ADMIN = ("root", "root-password-1")
SERVICE = "hth-registry"


def auth_config(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "auth": {
            "enabled": True,
            "initial_admin": {"username": ADMIN[0], "password": ADMIN[1]},
        },
        "logging": {"level": "debug"},
    }
    return deep_merge(base, extra or {})


@dataclass
class AuthRegistry:
    """Our registry with auth on; the initial admin is ADMIN."""

    server: RegistryProcess
    passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, workdir: Path, extra: dict[str, Any] | None = None) -> AuthRegistry:
        return cls(RegistryProcess(workdir, auth_config(extra)).start())

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, auth: tuple[str, str] | None = None, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, headers=headers, timeout=30.0)

    def admin(self) -> httpx.Client:
        return self.client(ADMIN)

    def create_user(
        self,
        username: str,
        grants: dict[str, list[str]] | None = None,
        admin: bool = False,
        password: str | None = None,
    ) -> tuple[str, str]:
        """A user with these grants {namespace: actions}; its (username, password)."""
        password = password or f"{username}-password"
        body = {
            "username": username,
            "password": password,
            "admin": admin,
            "permissions": [{"namespace": ns, "actions": a} for ns, a in (grants or {}).items()],
        }
        with self.admin() as http:
            response = http.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.text
        self.passwords[username] = password
        return username, password

    def create_token(self, username: str, name: str = "test") -> dict[str, Any]:
        with self.admin() as http:
            response = http.post("/api/v1/tokens", json={"name": name, "user": username})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def revoke(self, token_id: str) -> None:
        with self.admin() as http:
            assert http.delete(f"/api/v1/tokens/{token_id}").status_code == 200

    def token(self, auth: tuple[str, str] | None, *scopes: str) -> str:
        """A registry token from GET /auth/token (anonymous when auth is None)."""
        params = [("service", SERVICE), *(("scope", s) for s in scopes)]
        with self.client(auth) as http:
            response = http.get("/auth/token", params=params)
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def oci_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code
