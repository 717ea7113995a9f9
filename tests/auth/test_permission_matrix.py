"""Every /v2 route (dispatch.ROUTES) and every /api/v1 route (the app's route table) times
{anonymous, pull, push, delete, admin} -> the expected answer (registry tokens on /v2,
personal tokens on /api/v1, where registry tokens answer 401 whatever they grant; /api/v1/me
is for every user, the rest for admins). The table
below is the specification: a route or method missing from it fails, so no new route goes
unruled."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from api.app import create_app
from api.auth.v2_access import RULES
from api.v1.guard_check import flat_routes
from api.v2.dispatch import ROUTES
from registry.config import parse_settings
from tests.support.auth import ADMIN, AuthRegistry, bearer
from tests.support.registry_content import filesystem_driver, image_manifest, push_ok

ROLES = ["anonymous", "pull", "push", "delete", "admin"]
REPO = "matrix/app"
REFUSED = (401, 403)

# What each /v2 (route label, method) needs: login, catalog, pull, push or delete.
V2_EXPECTED: dict[tuple[str, str], str] = {
    ("base", "GET"): "login",
    ("base", "HEAD"): "login",
    ("catalog", "GET"): "catalog",
    ("tags", "GET"): "pull",
    ("manifest", "GET"): "pull",
    ("manifest", "HEAD"): "pull",
    ("manifest", "PUT"): "push",
    ("manifest", "DELETE"): "delete",
    ("upload_start", "POST"): "push",
    ("upload", "GET"): "push",
    ("upload", "PATCH"): "push",
    ("upload", "PUT"): "push",
    ("upload", "DELETE"): "push",
    ("blob", "GET"): "pull",
    ("blob", "HEAD"): "pull",
    ("blob", "DELETE"): "delete",
    ("referrers", "GET"): "pull",
}
# Who may do what: the roles' grants on `matrix` (admin may do everything).
MAY = {
    "login": {"pull", "push", "delete", "admin"},
    "catalog": {"pull", "push", "delete", "admin"},  # each sees what it may pull
    "pull": {"pull", "push", "delete", "admin"},
    "push": {"push", "delete", "admin"},
    "delete": {"delete", "admin"},
}
GRANTS = {"pull": ["pull"], "push": ["pull", "push"], "delete": ["pull", "push", "delete"]}
# /api/v1 paths open to everyone: the API's own description.
API_PUBLIC = {"/api/v1/openapi.json"}


def _v2_cases() -> list[tuple[str, str, str]]:
    return [(r.label, m, role) for r in ROUTES for m in sorted(r.methods) for role in ROLES]


def _api_routes() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(parse_settings({"data_dir": data_dir}))
    app.openapi()  # adds every /api/v1 router (api/lazy_routers.py)
    found = []
    for path, route in flat_routes(app.routes):
        if not path.startswith("/api/v1"):
            continue
        if isinstance(route, APIRoute):
            found += [(path, method) for method in sorted(route.methods)]
        else:
            assert isinstance(route, Route) and path in API_PUBLIC, f"{path}: no rule"
    return found


# Registry tokens on /api/v1: 401 whatever their scope, so a client may fetch other credentials.
REGISTRY_TOKENS = ["admin registry token", "anonymous registry token"]


def _api_cases() -> list[tuple[str, str, str]]:
    roles = ROLES + REGISTRY_TOKENS
    return [(path, method, role) for path, method in _api_routes() for role in roles]


@pytest.fixture(scope="module")
def matrix(auth_registry: AuthRegistry) -> Iterator[dict[str, dict[str, str]]]:
    """Headers per role (a registry token asking for everything), with an image in REPO."""
    document = image_manifest(filesystem_driver(auth_registry.server.storage_root), REPO)
    with auth_registry.admin() as http:
        push_ok(http, REPO, "v1", document)
    scopes = (f"repository:{REPO}:pull,push,delete", "registry:catalog:*")
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, actions in GRANTS.items():
        user = auth_registry.create_user(f"matrix-{role}", {"matrix": actions})
        headers[role] = bearer(auth_registry.token(user, *scopes))
    headers["admin"] = bearer(auth_registry.token(ADMIN, *scopes))
    yield {"digest": {"layer": document["layers"][0]["digest"]}, **headers}


@pytest.fixture(scope="module")
def api_matrix(
    auth_registry: AuthRegistry, matrix: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Headers per role for /api/v1: personal access tokens, and (REGISTRY_TOKENS) the
    registry tokens of `matrix`, which are no admin credential whatever they grant."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in GRANTS:
        headers[role] = bearer(auth_registry.create_token(f"matrix-{role}", "matrix")["token"])
    headers["admin"] = bearer(auth_registry.create_token(ADMIN[0], "matrix")["token"])
    headers["admin registry token"] = matrix["admin"]
    headers["anonymous registry token"] = bearer(auth_registry.token(None))
    return headers


def _v2_path(label: str, digest: str) -> str:
    upload = "0b5c6a5e-0000-4000-8000-000000000000"
    return {
        "base": "/v2/",
        "catalog": "/v2/_catalog",
        "tags": f"/v2/{REPO}/tags/list",
        "manifest": f"/v2/{REPO}/manifests/v1",
        "upload_start": f"/v2/{REPO}/blobs/uploads/",
        "upload": f"/v2/{REPO}/blobs/uploads/{upload}",
        "blob": f"/v2/{REPO}/blobs/{digest}",
        "referrers": f"/v2/{REPO}/referrers/{digest}",
    }[label]


@pytest.mark.parametrize(("label", "method", "role"), _v2_cases())
def test_v2_route(
    auth_registry: AuthRegistry, matrix: dict[str, dict[str, str]], label: str, method: str,
    role: str,
) -> None:  # fmt: skip
    need = V2_EXPECTED.get((label, method))
    assert need is not None, f"/v2 {label} {method}: add it to V2_EXPECTED (and RULES)"
    assert (label, method) in RULES, f"/v2 {label} {method}: no rule in api.auth.v2_access"
    path = _v2_path(label, matrix["digest"]["layer"])

    with auth_registry.client(**matrix[role]) as http:
        response = http.request(method, path, content=b"{}" if method == "PUT" else None)

    if role in MAY[need]:
        assert response.status_code not in REFUSED, response.text
        assert response.status_code < 500, response.text
    else:
        expected = 401 if role == "anonymous" else 403
        assert response.status_code == expected, response.text
        if method != "HEAD":
            assert response.json()["errors"][0]["code"] in ("UNAUTHORIZED", "DENIED")


def _api_path(path: str) -> str:
    for param in ("{name:path}", "{namespace:path}", "{instance_id:path}"):
        path = path.replace(param, "matrix-none")
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + "matrix-none" + path[end + 1 :]
    return path


@pytest.mark.parametrize(("path", "method", "role"), _api_cases())
def test_api_route(
    auth_registry: AuthRegistry, api_matrix: dict[str, dict[str, str]], path: str, method: str,
    role: str,
) -> None:  # fmt: skip
    body = {} if method in ("POST", "PUT", "PATCH") else None
    with auth_registry.client(**api_matrix[role]) as http:
        response = http.request(method, _api_path(path), json=body)
        if role == "admin" and path.endswith("/stop"):  # leave the registry serving
            http.post(_api_path(path).removesuffix("/stop") + "/start")

    if role == "admin" or (role in GRANTS and path.startswith("/api/v1/me")):
        assert response.status_code not in REFUSED, response.text
        assert response.status_code < 500, response.text
    elif role in REGISTRY_TOKENS:
        assert response.status_code == 401, response.text
        assert "registry tokens" in response.json()["detail"]
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    else:
        assert response.status_code == (401 if role == "anonymous" else 403), response.text
        assert "detail" in response.json()


def test_every_api_route_is_listed_with_the_admin_security_scheme(
    auth_registry: AuthRegistry,
) -> None:
    document = httpx.get(f"{auth_registry.url}/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            assert operation.get("security"), f"{method.upper()} {path} documents no security"
