"""GET and POST /auth/token as Docker, skopeo and podman call them."""

from __future__ import annotations

import uuid

from tests.support.auth import ADMIN, SERVICE, AuthRegistry, bearer


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def test_get_with_basic_credentials_answers_docker_token_fields(
    auth_registry: AuthRegistry,
) -> None:
    with auth_registry.client(ADMIN) as http:
        response = http.get(
            "/auth/token", params={"service": SERVICE, "scope": "registry:catalog:*"}
        )

    body = response.json()
    assert response.status_code == 200
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")
    assert response.headers["Cache-Control"] == "no-store"
    with auth_registry.client(**bearer(body["token"])) as http:
        assert http.get("/v2/_catalog").status_code == 200


def test_wrong_password_is_refused_without_echoing_it(auth_registry: AuthRegistry) -> None:
    with auth_registry.client((ADMIN[0], "not-the-password-xyz")) as http:
        response = http.get("/auth/token", params={"service": SERVICE})

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "not-the-password-xyz" not in response.text


def test_unknown_service_and_malformed_scope_are_bad_requests(auth_registry: AuthRegistry) -> None:
    with auth_registry.client(ADMIN) as http:
        service = http.get("/auth/token", params={"service": "elsewhere"})
        scope = http.get(
            "/auth/token", params={"service": SERVICE, "scope": "repository:../x:pull"}
        )

    assert service.status_code == 400
    assert scope.status_code == 400


def test_post_password_grant_with_offline_access_returns_a_refresh_token(
    auth_registry: AuthRegistry,
) -> None:
    ns = _name("ns")
    user = auth_registry.create_user(_name("o"), {ns: ["pull", "push"]})
    form = {
        "grant_type": "password",
        "username": user[0],
        "password": user[1],
        "service": SERVICE,
        "scope": f"repository:{ns}/a:pull repository:{ns}/b:push",
        "client_id": "docker",
        "access_type": "offline",
    }
    with auth_registry.client() as http:
        first = http.post("/auth/token", data=form)
        refreshed = http.post("/auth/token", data={
            "grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"],
            "service": SERVICE, "scope": f"repository:{ns}/a:pull", "client_id": "docker",
        })  # fmt: skip

    assert first.status_code == 200, first.text
    assert first.json()["token_type"] == "Bearer"
    assert first.json()["refresh_token"].startswith("hth_")
    assert refreshed.status_code == 200, refreshed.text
    with auth_registry.client(**bearer(refreshed.json()["access_token"])) as http:
        assert http.get(f"/v2/{ns}/a/tags/list").status_code == 404  # allowed, but empty


def test_revoking_a_refresh_token_ends_its_registry_tokens(auth_registry: AuthRegistry) -> None:
    user = auth_registry.create_user(_name("f"))
    form = {"grant_type": "password", "username": user[0], "password": user[1],
            "service": SERVICE, "access_type": "offline"}  # fmt: skip
    with auth_registry.client() as http:
        issued = http.post("/auth/token", data=form).json()
    with auth_registry.admin() as http:
        refresh = http.get("/api/v1/tokens", params={"user": user[0], "kind": "refresh"}).json()
    auth_registry.revoke(refresh["items"][0]["id"])

    with auth_registry.client(**bearer(issued["access_token"])) as http:
        assert http.get("/v2/").status_code == 401
    with auth_registry.client() as http:
        again = http.post("/auth/token", data={
            "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
            "service": SERVICE,
        })  # fmt: skip
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_grant"


def test_unsupported_grant_type_is_a_bad_request(auth_registry: AuthRegistry) -> None:
    with auth_registry.client() as http:
        response = http.post("/auth/token", data={"grant_type": "client_credentials"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
