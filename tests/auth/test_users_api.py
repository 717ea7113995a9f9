"""/api/v1/users and /api/v1/tokens: admin-only management, secrets shown once and never
echoed, protection against locking oneself out, and the audit of every change."""

from __future__ import annotations

import uuid

from tests.support.auth import ADMIN, AuthRegistry, bearer


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def test_management_api_needs_an_admin(auth_registry: AuthRegistry) -> None:
    user = auth_registry.create_user(_name("u"))
    with auth_registry.client() as http:
        anonymous = http.get("/api/v1/users")
    with auth_registry.client(user) as http:
        not_admin = http.get("/api/v1/users")

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert not_admin.status_code == 403


def test_admin_token_works_as_bearer_on_the_api(auth_registry: AuthRegistry) -> None:
    token = auth_registry.create_token(ADMIN[0], "api")

    with auth_registry.client(**bearer(token["token"])) as http:
        response = http.get("/api/v1/users")

    assert response.status_code == 200
    assert ADMIN[0] in [u["username"] for u in response.json()["items"]]


def test_token_text_is_shown_once_and_never_listed(auth_registry: AuthRegistry) -> None:
    user = auth_registry.create_user(_name("t"))
    created = auth_registry.create_token(user[0], "laptop")

    with auth_registry.admin() as http:
        listed = http.get("/api/v1/tokens", params={"user": user[0]})
        shown = http.get(f"/api/v1/tokens/{created['id']}")

    assert created["token"].startswith(f"hth_{created['id']}_")
    assert created["token"] not in listed.text
    assert created["token"] not in shown.text
    assert [t["id"] for t in listed.json()["items"]] == [created["id"]]


def test_robot_account_gets_a_token_and_no_password(auth_registry: AuthRegistry) -> None:
    ns = _name("ns")
    body = {"username": _name("ci"), "robot": True,
            "permissions": [{"namespace": ns, "actions": ["pull", "push"]}]}  # fmt: skip
    with auth_registry.admin() as http:
        created = http.post("/api/v1/users", json=body)
        with_password = http.post("/api/v1/users", json={**body, "password": "whatever-123"})

    robot = created.json()
    assert created.status_code == 201, created.text
    assert robot["username"] == f"robot${body['username']}"
    assert robot["permissions"] == [{"namespace": ns, "actions": ["pull", "push"]}]
    assert with_password.status_code == 400
    token = auth_registry.token((robot["username"], robot["token"]), f"repository:{ns}/x:push")
    with auth_registry.client(**bearer(token)) as http:
        assert http.post(f"/v2/{ns}/x/blobs/uploads/").status_code == 202


def test_weak_or_missing_password_is_refused_and_never_echoed(auth_registry: AuthRegistry) -> None:
    with auth_registry.admin() as http:
        short = http.post("/api/v1/users", json={"username": _name("w"), "password": "abc"})
        missing = http.post("/api/v1/users", json={"username": _name("w")})
        invalid = http.post("/api/v1/users", json={"username": 7, "password": "secret-echo-1"})

    assert short.status_code == 400
    assert missing.status_code == 400
    assert invalid.status_code == 422
    assert "secret-echo-1" not in invalid.text


def test_admin_cannot_delete_or_demote_itself(auth_registry: AuthRegistry) -> None:
    with auth_registry.admin() as http:
        delete = http.delete(f"/api/v1/users/{ADMIN[0]}")
        demote = http.patch(f"/api/v1/users/{ADMIN[0]}", json={"admin": False})

    assert delete.status_code == 409
    assert demote.status_code == 409


def test_deleting_a_user_ends_its_tokens_and_grants(auth_registry: AuthRegistry) -> None:
    ns = _name("ns")
    user = auth_registry.create_user(_name("x"), {ns: ["pull"]})
    token = auth_registry.create_token(user[0])

    with auth_registry.admin() as http:
        assert http.delete(f"/api/v1/users/{user[0]}").status_code == 204
        grants = http.get(f"/api/v1/users/{user[0]}/permissions")
    with auth_registry.client(**bearer(token["token"])) as http:
        refused = http.get("/v2/")

    assert grants.status_code == 404
    assert refused.status_code == 401


def test_permission_changes_are_audited_without_secrets(auth_registry: AuthRegistry) -> None:
    ns = _name("ns")
    username, password = auth_registry.create_user(_name("a"))
    with auth_registry.admin() as http:
        http.put(f"/api/v1/users/{username}/permissions/{ns}", json={"actions": ["pull"]})
        http.delete(f"/api/v1/users/{username}/permissions/{ns}")
        http.patch(f"/api/v1/users/{username}", json={"password": "brand-new-password"})
        events = http.get("/api/v1/audit", params={"target": username}).json()["items"]

    actions = [e["action"] for e in events]
    assert actions == ["user.update", "permission.remove", "permission.set", "user.create"]
    assert all(e["actor"] == ADMIN[0] and e["source"] == "127.0.0.1" for e in events)
    assert events[2]["params"] == {"namespace": ns, "actions": ["pull"]}
    text = str(events)
    assert password not in text and "brand-new-password" not in text
