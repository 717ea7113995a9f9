"""The /v2 access check against a real registry with auth on: challenges, scopes, 403
DENIED, basic-auth fallback, revocation and expiry acting at once, mounts, public pulls."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from registry.auth import jwts
from registry.auth.users import find_user
from registry.config import parse_settings
from registry.db.database import open_database
from tests.support.auth import ADMIN, AuthRegistry, bearer, oci_code
from tests.support.registry_content import filesystem_driver, image_manifest, push_ok


def _ns() -> str:
    return f"ns{uuid.uuid4().hex[:8]}"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def _seed_image(registry: AuthRegistry, name: str, tag: str = "v1") -> tuple[str, dict[str, Any]]:
    document = image_manifest(filesystem_driver(registry.server.storage_root), name)
    with registry.admin() as http:
        digest, _ = push_ok(http, name, tag, document)
    return digest, document


def _start_upload(registry: AuthRegistry, token: str, name: str, **query: str) -> httpx.Response:
    with registry.client(**bearer(token)) as http:
        return http.post(f"/v2/{name}/blobs/uploads/", params=query)


def test_anonymous_request_gets_a_bearer_challenge_naming_the_scope(
    auth_registry: AuthRegistry,
) -> None:
    with auth_registry.client() as http:
        response = http.get("/v2/team/app/manifests/latest")

    assert response.status_code == 401
    assert oci_code(response) == "UNAUTHORIZED"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{auth_registry.url}/auth/token"' in challenge
    assert 'service="hth-registry"' in challenge
    assert 'scope="repository:team/app:pull"' in challenge


def test_version_check_needs_a_login_and_answers_any_valid_token(
    auth_registry: AuthRegistry,
) -> None:
    user = auth_registry.create_user(f"v{uuid.uuid4().hex[:6]}")
    with auth_registry.client() as http:
        assert http.get("/v2/").status_code == 401
    token = auth_registry.token(user)
    with auth_registry.client(**bearer(token)) as http:
        assert http.get("/v2/").status_code == 200


def test_token_carries_the_intersection_of_asked_and_allowed(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    user = auth_registry.create_user(f"p{uuid.uuid4().hex[:6]}", {ns: ["pull"]})

    token = auth_registry.token(user, f"repository:{ns}/app:pull,push,delete", "registry:catalog:*")

    access = {(a["type"], a["name"]): a["actions"] for a in _claims(token)["access"]}
    # The catalog is for every user: it lists what they may pull.
    assert access == {("repository", f"{ns}/app"): ["pull"], ("registry", "catalog"): ["*"]}


def test_pull_only_user_is_refused_push_with_denied(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    user = auth_registry.create_user(f"p{uuid.uuid4().hex[:6]}", {ns: ["pull"]})
    token = auth_registry.token(user, f"repository:{ns}/app:pull,push")

    refused = _start_upload(auth_registry, token, f"{ns}/app")
    with auth_registry.client(**bearer(token)) as http:
        pulled = http.get(f"/v2/{ns}/app/manifests/v1")

    assert refused.status_code == 403
    assert oci_code(refused) == "DENIED"
    assert pulled.status_code == 200


def test_token_asking_less_than_allowed_gets_an_insufficient_scope_challenge(
    auth_registry: AuthRegistry,
) -> None:
    ns = _ns()
    user = auth_registry.create_user(f"w{uuid.uuid4().hex[:6]}", {ns: ["pull", "push"]})
    token = auth_registry.token(user, f"repository:{ns}/app:pull")

    response = _start_upload(auth_registry, token, f"{ns}/app")

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="repository:{ns}/app:pull,push"' in challenge


def test_basic_credentials_work_on_v2_as_a_fallback(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    user = auth_registry.create_user(f"b{uuid.uuid4().hex[:6]}", {ns: ["pull"]})

    with auth_registry.client(user) as http:
        pulled = http.get(f"/v2/{ns}/app/manifests/v1")
        pushed = http.post(f"/v2/{ns}/app/blobs/uploads/")
    with auth_registry.client((user[0], "wrong-password")) as http:
        wrong = http.get(f"/v2/{ns}/app/manifests/v1")

    assert pulled.status_code == 200
    assert pushed.status_code == 403 and oci_code(pushed) == "DENIED"
    assert wrong.status_code == 401


def test_revoked_token_stops_working_at_once(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    username, _ = auth_registry.create_user(f"r{uuid.uuid4().hex[:6]}", {ns: ["pull"]})
    pat = auth_registry.create_token(username)
    registry_token = auth_registry.token((username, pat["token"]), f"repository:{ns}/app:pull")
    with auth_registry.client(**bearer(registry_token)) as http:
        assert http.get(f"/v2/{ns}/app/manifests/v1").status_code == 200

    auth_registry.revoke(pat["id"])

    with auth_registry.client(**bearer(registry_token)) as http:
        by_jwt = http.get(f"/v2/{ns}/app/manifests/v1")
    with auth_registry.client((username, pat["token"])) as http:
        by_basic = http.get(f"/v2/{ns}/app/manifests/v1")
    with auth_registry.client(**bearer(pat["token"])) as http:
        by_bearer = http.get(f"/v2/{ns}/app/manifests/v1")
    assert by_jwt.status_code == 401
    assert 'error="invalid_token"' in by_jwt.headers["WWW-Authenticate"]
    assert by_basic.status_code == 401
    assert by_bearer.status_code == 401


def test_disabled_user_is_refused_at_once(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    user = auth_registry.create_user(f"d{uuid.uuid4().hex[:6]}", {ns: ["pull"]})
    token = auth_registry.token(user, f"repository:{ns}/app:pull")

    with auth_registry.admin() as http:
        assert http.patch(f"/api/v1/users/{user[0]}", json={"disabled": True}).status_code == 200

    with auth_registry.client(**bearer(token)) as http:
        assert http.get(f"/v2/{ns}/app/manifests/v1").status_code == 401


def _issue(registry: AuthRegistry, username: str, ttl: int, scope: str) -> str:
    settings = parse_settings(registry.server.full_config())
    db = open_database(settings)
    user = find_user(db, username)
    assert user is not None
    from registry.auth.scopes import parse_scopes

    return jwts.issue(db, "hth-registry", ttl, username, user.id, None, parse_scopes([scope])).token


def test_expired_jwt_is_refused(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    username, _ = auth_registry.create_user(f"e{uuid.uuid4().hex[:6]}", {ns: ["pull"]})
    fresh = _issue(auth_registry, username, 300, f"repository:{ns}/app:pull")
    expired = _issue(auth_registry, username, -3600, f"repository:{ns}/app:pull")

    with auth_registry.client(**bearer(fresh)) as http:
        accepted = http.get(f"/v2/{ns}/app/manifests/v1")
    with auth_registry.client(**bearer(expired)) as http:
        refused = http.get(f"/v2/{ns}/app/manifests/v1")

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_token_signed_with_another_key_is_refused(auth_registry: AuthRegistry) -> None:
    now = 2_000_000_000
    claims = {"iss": "hth-registry", "aud": "hth-registry", "sub": ADMIN[0], "iat": now - 10}
    claims["exp"] = now + 10**8
    claims["access"] = [{"type": "repository", "name": "x/y", "actions": ["pull"]}]
    forged = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": "k1"}
    )

    with auth_registry.client(**bearer(forged)) as http:
        response = http.get("/v2/x/y/tags/list")

    assert response.status_code == 401


def test_cross_repository_mount_requires_pull_on_the_source(auth_registry: AuthRegistry) -> None:
    ns_source, ns_target = _ns(), _ns()
    _, document = _seed_image(auth_registry, f"{ns_source}/app")
    layer = document["layers"][0]["digest"]
    outsider = auth_registry.create_user(f"m{uuid.uuid4().hex[:6]}", {ns_target: ["pull", "push"]})
    insider = auth_registry.create_user(
        f"m{uuid.uuid4().hex[:6]}", {ns_target: ["pull", "push"], ns_source: ["pull"]}
    )
    scopes = (f"repository:{ns_target}/app:pull,push", f"repository:{ns_source}/app:pull")
    mount = {"mount": layer, "from": f"{ns_source}/app"}

    refused = _start_upload(
        auth_registry, auth_registry.token(outsider, *scopes), f"{ns_target}/app", **mount
    )
    mounted = _start_upload(
        auth_registry, auth_registry.token(insider, *scopes), f"{ns_target}/app", **mount
    )

    assert refused.status_code == 202  # a plain upload session: nothing was mounted
    assert "/blobs/uploads/" in refused.headers["Location"]
    assert mounted.status_code == 201
    assert mounted.headers["Docker-Content-Digest"] == layer


def test_public_namespace_is_pullable_without_credentials(auth_registry: AuthRegistry) -> None:
    ns = _ns()
    _seed_image(auth_registry, f"{ns}/app")
    with auth_registry.admin() as http:
        grant = http.put(f"/api/v1/users/anonymous/permissions/{ns}", json={"actions": ["pull"]})
        assert grant.status_code == 200, grant.text
        refused = http.put(f"/api/v1/users/anonymous/permissions/{ns}", json={"actions": ["push"]})

    anonymous_token = auth_registry.token(None, f"repository:{ns}/app:pull,push")
    with auth_registry.client(**bearer(anonymous_token)) as http:
        pulled = http.get(f"/v2/{ns}/app/manifests/v1")
        pushed = http.post(f"/v2/{ns}/app/blobs/uploads/")
    with auth_registry.client() as http:
        without_token = http.get(f"/v2/{ns}/app/manifests/v1")

    assert refused.status_code == 400
    assert pulled.status_code == 200
    assert without_token.status_code == 200
    assert pushed.status_code == 401


@pytest.mark.parametrize("reference_kind", ["tag", "digest"])
def test_deletes_are_audited_with_actor_and_source(
    auth_registry: AuthRegistry, reference_kind: str
) -> None:
    ns = _ns()
    digest, _ = _seed_image(auth_registry, f"{ns}/app", "v1")
    reference = "v1" if reference_kind == "tag" else digest

    with auth_registry.admin() as http:
        assert http.delete(f"/v2/{ns}/app/manifests/{reference}").status_code == 202
        events = http.get("/api/v1/audit", params={"target": f"{ns}/app"}).json()["items"]

    action = "tag.delete" if reference_kind == "tag" else "manifest.delete"
    separator = ":" if reference_kind == "tag" else "@"
    assert [(e["action"], e["target"]) for e in events] == [
        (action, f"{ns}/app{separator}{reference}")
    ]
    assert events[0]["actor"] == ADMIN[0]
    assert events[0]["source"] == "127.0.0.1"
