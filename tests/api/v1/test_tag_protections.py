"""/api/v1/tag-protections with auth on (admins only, changes audited), and the /v2/
answers its rules cause: 412 DENIED for a move or a delete of a protected tag."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.auth import ADMIN
from tests.support.auth_app import AuthApp
from tests.support.registry_content import error_code, image_manifest, push, push_ok

PATH = "/api/v1/tag-protections"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthApp]:
    with AuthApp(tmp_path_factory.mktemp("tag-protections")) as auth_app:
        yield auth_app


@pytest.fixture()
def rule(app: AuthApp) -> Iterator[dict[str, Any]]:
    """A rule protecting semver tags under a fresh namespace (removed afterwards)."""
    namespace = f"p{uuid.uuid4().hex[:8]}"
    body = {"name": namespace, "repositories": f"{namespace}/**", "tags": r"v\d+\.\d+\.\d+"}
    created = app.admin.post(PATH, json=body)
    assert created.status_code == 201, created.text
    yield created.json()
    app.admin.delete(f"{PATH}/{namespace}")


def test_create_answers_201_with_location_and_the_rule(app: AuthApp) -> None:
    body = {"name": "releases-create", "repositories": "team/**", "tags": "latest|stable"}
    response = app.admin.post(PATH, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{PATH}/releases-create"
    assert {key: created[key] for key in body} == body
    assert created["created_by"] == ADMIN[0]
    assert app.admin.get(f"{PATH}/releases-create").json() == created
    assert created in app.admin.get(PATH).json()["items"]


def test_delete_removes_the_rule(app: AuthApp) -> None:
    app.admin.post(PATH, json={"name": "gone", "repositories": "**", "tags": "x"})
    assert app.admin.delete(f"{PATH}/gone").status_code == 204
    assert app.admin.get(f"{PATH}/gone").status_code == 404
    missing = app.admin.delete(f"{PATH}/gone")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


def test_a_taken_name_is_a_conflict(app: AuthApp, rule: dict[str, Any]) -> None:
    body = {"name": rule["name"], "repositories": "**", "tags": "x"}
    response = app.admin.post(PATH, json=body)
    assert response.status_code == 409 and "exists" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "r", "repositories": "Team/**", "tags": "x"}, "only lowercase"),
        ({"name": "r", "repositories": "team/**", "tags": "v("}, "not a regular expression"),
        ({"name": "No Spaces", "repositories": "**", "tags": "x"}, "rule name"),
    ],
)
def test_an_invalid_rule_is_refused_with_422_and_the_reason(
    app: AuthApp, body: dict[str, str], needle: str
) -> None:
    response = app.admin.post(PATH, json=body)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_a_missing_field_is_a_422_in_json(app: AuthApp) -> None:
    response = app.admin.post(PATH, json={"name": "incomplete"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "repositories"]


def test_only_admins_may_read_or_change_rules(app: AuthApp) -> None:
    username = f"u{uuid.uuid4().hex[:6]}"
    password = f"{username}-password"
    body = {"username": username, "password": password, "permissions": []}
    assert app.admin.post("/api/v1/users", json=body).status_code == 201
    user = (username, password)
    assert app.http.get(PATH, auth=user).status_code == 403
    refused = app.http.post(PATH, json={"name": "x", "repositories": "**", "tags": "x"}, auth=user)
    assert refused.status_code == 403
    assert app.http.get(PATH).status_code == 401


def test_who_changed_a_rule_is_in_the_audit_log(app: AuthApp, rule: dict[str, Any]) -> None:
    app.admin.delete(f"{PATH}/{rule['name']}")
    events = app.admin.get("/api/v1/audit", params={"target": rule["name"]}).json()["items"]
    actions = [(event["action"], event["actor"]) for event in events]
    assert actions == [("tag_protection.delete", ADMIN[0]), ("tag_protection.create", ADMIN[0])]
    assert events[1]["params"]["tags"] == rule["tags"]


def test_moving_a_protected_tag_answers_412_denied_and_keeps_it(
    app: AuthApp, rule: dict[str, Any]
) -> None:
    name = f"{rule['name']}/app"
    digest, _ = push_ok(app.admin, name, "v1.0.0", image_manifest(app.storage, name))
    refused = push(app.admin, name, "v1.0.0", image_manifest(app.storage, name))
    assert refused.status_code == 412
    assert error_code(refused) == "DENIED"
    assert f"'{name}:v1.0.0' configured as immutable" in refused.json()["errors"][0]["message"]
    served = app.admin.head(f"/v2/{name}/manifests/v1.0.0")
    assert served.headers["Docker-Content-Digest"] == digest


def test_deleting_a_protected_tag_or_its_digest_answers_412(
    app: AuthApp, rule: dict[str, Any]
) -> None:
    name = f"{rule['name']}/app"
    digest, _ = push_ok(app.admin, name, "v2.0.0", image_manifest(app.storage, name))
    for reference in ("v2.0.0", digest):
        response = app.admin.delete(f"/v2/{name}/manifests/{reference}")
        assert response.status_code == 412 and error_code(response) == "DENIED"
    assert app.admin.get(f"/v2/{name}/manifests/{digest}").status_code == 200


def test_a_rule_applies_at_once_on_the_instance_that_made_it(app: AuthApp) -> None:
    name = f"n{uuid.uuid4().hex[:8]}/app"
    push_ok(app.admin, name, "stable", image_manifest(app.storage, name))
    body = {"name": name.split("/")[0], "repositories": name, "tags": "stable"}
    assert app.admin.post(PATH, json=body).status_code == 201
    assert push(app.admin, name, "stable", image_manifest(app.storage, name)).status_code == 412
    assert app.admin.delete(f"{PATH}/{body['name']}").status_code == 204
    push_ok(app.admin, name, "stable", image_manifest(app.storage, name))


def test_a_repository_holding_a_protected_tag_is_not_deleted(
    app: AuthApp, rule: dict[str, Any]
) -> None:
    name = f"{rule['name']}/app"
    push_ok(app.admin, name, "v3.0.0", image_manifest(app.storage, name))
    refused = app.admin.delete(f"/api/v1/repositories/{name}")
    assert refused.status_code == 412, refused.text
    assert f"'{name}:v3.0.0' configured as immutable" in refused.json()["detail"]
    assert app.admin.get(f"/v2/{name}/manifests/v3.0.0").status_code == 200
    other = f"{rule['name']}/unprotected"
    push_ok(app.admin, other, "latest", image_manifest(app.storage, other))
    assert app.admin.delete(f"/api/v1/repositories/{other}").status_code == 202


def test_deleting_a_repository_with_an_invalid_name_is_a_400(app: AuthApp) -> None:
    response = app.admin.delete("/api/v1/repositories/%F2%A6%A8%B3Q%C3%BA")
    assert response.status_code == 400, response.text
