"""The app in this process with auth on, driven through Starlette's TestClient: fast HTTP
tests of auth (users, tokens, the catalog) without a server process."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from api.app import create_app
from registry.config import parse_settings
from registry.storage import StorageDriver
from tests.support.auth import ADMIN, SERVICE, auth_config
from tests.support.registry_content import filesystem_driver, image_manifest, push_ok

with warnings.catch_warnings():
    # Starlette asks for `httpx2` behind its TestClient; the httpx it falls back to works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Auth = tuple[str, str]


class AuthApp:
    """One app (SQLite, filesystem storage under `root`); ADMIN is its initial admin."""

    def __init__(self, root: Path, extra: dict[str, Any] | None = None) -> None:
        self.storage_root = root / "storage"
        raw = auth_config(
            {
                "data_dir": str(root / "var"),
                "docker_registry": {
                    "storage_driver": "filesystem",
                    "storage_settings": {"rootdirectory": str(self.storage_root)},
                },
                **(extra or {}),
            }
        )
        app = create_app(parse_settings(raw))
        self.http = TestClient(app, base_url="http://registry.test")
        # The same app as the admin (its lifespan is run once, by `http`).
        self.admin = TestClient(app, base_url="http://registry.test")
        self.admin.auth = ADMIN

    def __enter__(self) -> AuthApp:
        self.http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.__exit__(*exc)

    @property
    def storage(self) -> StorageDriver:
        return filesystem_driver(self.storage_root)

    def push(self, *names: str) -> None:
        """A one-layer image tagged `v1` in each repository."""
        for name in names:
            push_ok(self.admin, name, "v1", image_manifest(self.storage, name))

    def create_user(self, username: str, grants: dict[str, list[str]] | None = None) -> Auth:
        body = {
            "username": username,
            "password": f"{username}-password",
            "permissions": [{"namespace": ns, "actions": a} for ns, a in (grants or {}).items()],
        }
        response = self.admin.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.text
        return username, f"{username}-password"

    def grant(self, principal: str, namespace: str, actions: list[str]) -> None:
        path = f"/api/v1/users/{principal}/permissions/{namespace}"
        response = self.admin.put(path, json={"actions": actions})
        assert response.status_code == 200, response.text

    def my_token(self, auth: Auth, **body: Any) -> dict[str, Any]:
        """A token the user makes for themselves at /api/v1/me/tokens."""
        response = self.http.post("/api/v1/me/tokens", json={"name": "t", **body}, auth=auth)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def registry_token(self, auth: Auth | None, *scopes: str) -> str:
        params = [("service", SERVICE), *(("scope", s) for s in scopes)]
        response = self.http.get("/auth/token", params=params, auth=auth)
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token
