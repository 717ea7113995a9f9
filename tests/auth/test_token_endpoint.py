"""GET and POST /auth/token as Docker, skopeo and podman call them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

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


def _offline_login(
    http: httpx.Client, user: tuple[str, str], client_id: str | None = "docker"
) -> dict[str, Any]:
    form = {"grant_type": "password", "username": user[0], "password": user[1],
            "service": SERVICE, "access_type": "offline"}  # fmt: skip
    if client_id is not None:
        form["client_id"] = client_id
    response = http.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    issued: dict[str, Any] = response.json()
    return issued


def test_offline_logins_beyond_the_limit_revoke_the_oldest_refresh_token(
    auth_registry: AuthRegistry,
) -> None:
    limit = 10  # auth.refresh_tokens_per_client's default
    user = auth_registry.create_user(_name("r"))
    with auth_registry.client() as http:
        logins = [_offline_login(http, user) for _ in range(limit + 1)]
        other_client = _offline_login(http, user, "podman")
        oldest_again = http.post("/auth/token", data={
            "grant_type": "refresh_token", "refresh_token": logins[0]["refresh_token"],
            "service": SERVICE,
        })  # fmt: skip
        newest_again = http.post("/auth/token", data={
            "grant_type": "refresh_token", "refresh_token": logins[-1]["refresh_token"],
            "service": SERVICE,
        })  # fmt: skip
    with auth_registry.admin() as http:
        listed = http.get(
            "/api/v1/tokens", params={"user": user[0], "kind": "refresh", "include_revoked": True}
        ).json()["items"]

    live = [t for t in listed if t["live"]]
    revoked = [t for t in listed if not t["live"]]
    assert sorted(t["client_id"] for t in live) == ["docker"] * limit + ["podman"]
    assert [(t["client_id"], t["revoked_at"] is not None) for t in revoked] == [("docker", True)]
    assert revoked[0]["id"] == logins[0]["refresh_token"].split("_")[1]
    assert other_client["refresh_token"].split("_")[1] in {t["id"] for t in live}
    assert oldest_again.status_code == 401
    assert newest_again.status_code == 200
    with auth_registry.client(**bearer(logins[0]["access_token"])) as http:
        assert http.get("/v2/").status_code == 401  # its registry token ended with it


def test_a_get_login_names_its_client_and_an_overlong_client_id_is_refused(
    auth_registry: AuthRegistry,
) -> None:
    user = auth_registry.create_user(_name("g"))
    with auth_registry.client(user) as http:
        named = http.get("/auth/token", params={
            "service": SERVICE, "offline_token": "true", "client_id": "skopeo",
        })  # fmt: skip
        overlong = http.get("/auth/token", params={
            "service": SERVICE, "offline_token": "true", "client_id": "c" * 129,
        })  # fmt: skip
    with auth_registry.admin() as http:
        listed = http.get("/api/v1/tokens", params={"user": user[0], "kind": "refresh"}).json()

    assert named.status_code == 200 and named.json()["refresh_token"].startswith("hth_")
    assert [t["client_id"] for t in listed["items"]] == ["skopeo"]
    assert overlong.status_code == 400
    assert "client_id" in overlong.json()["errors"][0]["message"]
