"""Which credentials are admin credentials on /api/v1: an admin's password and personal
token are; registry tokens (whatever their scope, even an admin's) and refresh tokens are
not, and answer 401 with a JSON body and a challenge that says so."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.auth import ADMIN, SERVICE, AuthRegistry, bearer


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def _api_calls(http: httpx.Client, new_user: str) -> list[httpx.Response]:
    """Creating a user, listing tokens, enqueueing a task, reading tasks."""
    body = {"username": new_user, "password": "a-long-password", "admin": True}
    return [
        http.post("/api/v1/users", json=body),
        http.get("/api/v1/tokens"),
        http.post("/api/v1/tasks", json={"kind": "purge_uploads", "params": {"dry_run": True}}),
        http.get("/api/v1/tasks"),
    ]


def _assert_refused_as_registry_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert "registry tokens" in response.json()["detail"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Basic realm="hth-registry"')
    assert 'Bearer realm="hth-registry", error="invalid_token"' in challenge
    assert "/auth/token" not in challenge.split("error_description")[0]  # no realm to fetch one


@pytest.mark.parametrize("scopes", [(), ("repository:library/app:pull",)], ids=["none", "pull"])
@pytest.mark.parametrize("whose", ["admin", "user", "anonymous"])
def test_a_registry_token_is_refused_on_the_api_whatever_its_scope(
    auth_registry: AuthRegistry, scopes: tuple[str, ...], whose: str
) -> None:
    credentials = {"admin": ADMIN, "user": auth_registry.create_user(_name("j")), "anonymous": None}
    token = auth_registry.token(credentials[whose], *scopes)
    new_user = _name("made")

    with auth_registry.client(**bearer(token)) as http:
        responses = _api_calls(http, new_user)
    with auth_registry.admin() as http:
        created = http.get(f"/api/v1/users/{new_user}")

    for response in responses:
        _assert_refused_as_registry_token(response)
    assert created.status_code == 404


def test_an_admins_password_and_personal_token_are_admin_credentials(
    auth_registry: AuthRegistry,
) -> None:
    token = auth_registry.create_token(ADMIN[0], _name("api"))["token"]
    with auth_registry.admin() as http:
        by_password = _api_calls(http, _name("pw"))
    with auth_registry.client(**bearer(token)) as http:
        by_token = _api_calls(http, _name("tok"))

    for responses in (by_password, by_token):
        assert [r.status_code for r in responses] == [201, 200, 202, 200]


def test_a_non_admins_password_and_token_are_denied(auth_registry: AuthRegistry) -> None:
    user = auth_registry.create_user(_name("plain"))
    token = auth_registry.create_token(user[0], _name("api"))["token"]
    with auth_registry.client(user) as http:
        by_password = _api_calls(http, _name("pw"))
    with auth_registry.client(**bearer(token)) as http:
        by_token = _api_calls(http, _name("tok"))

    for response in by_password + by_token:
        assert response.status_code == 403, response.text
        assert response.json()["detail"].startswith("the management API is for admins")


def test_an_admins_refresh_token_is_no_api_credential(auth_registry: AuthRegistry) -> None:
    form = {"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1],
            "service": SERVICE, "access_type": "offline", "client_id": "docker"}  # fmt: skip
    with auth_registry.client() as http:
        refresh = http.post("/auth/token", data=form).json()["refresh_token"]
    with auth_registry.client(**bearer(refresh)) as http:
        as_bearer = http.get("/api/v1/tokens")
    with auth_registry.client((ADMIN[0], refresh)) as http:
        as_password = http.get("/api/v1/tokens")
        on_v2 = http.get("/v2/")  # still what it is for: the registry

    for response in (as_bearer, as_password):
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "a refresh token is only for /auth/token"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert on_v2.status_code == 200
