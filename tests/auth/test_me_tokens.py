"""/api/v1/me and a user's own personal access tokens, in process: create, list, revoke;
others' tokens invisible; never more rights than the user has (403 at creation, and the
user's rights evaluated again at every use); revocation acting at once; the audit log."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.auth import ADMIN, bearer
from tests.support.auth_app import Auth, AuthApp

_numbers = itertools.count()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthApp]:
    extra = {"auth": {"personal_tokens_per_user": 3}}
    with AuthApp(tmp_path_factory.mktemp("me-tokens"), extra) as auth_app:
        auth_app.push("team/app", "team/other")
        yield auth_app


def _user(app: AuthApp, grants: dict[str, list[str]] | None = None) -> Auth:
    return app.create_user(f"user{next(_numbers)}", grants)


def _access(app: AuthApp, auth: Auth, scope: str) -> list[str]:
    """The actions a registry token asked with `auth` carries for `scope`'s repository."""
    response = app.http.get("/auth/token", params={"scope": scope}, auth=auth)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return [action for entry in claims["access"] for action in entry["actions"]]


def test_a_user_creates_lists_and_revokes_their_own_tokens(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull"]})

    created = app.http.post("/api/v1/me/tokens", json={"name": "laptop"}, auth=alice)
    token_id = created.json()["id"]
    listed = app.http.get("/api/v1/me/tokens", auth=alice).json()["items"]
    revoked = app.http.delete(f"/api/v1/me/tokens/{token_id}", auth=alice)
    after = app.http.get("/api/v1/me/tokens", auth=alice).json()["items"]
    with_revoked = app.http.get("/api/v1/me/tokens?include_revoked=true", auth=alice)

    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/me/tokens/{token_id}"
    assert created.json()["token"].startswith(f"hth_{token_id}_")
    assert [(t["id"], t["user"], t["permissions"]) for t in listed] == [(token_id, alice[0], None)]
    assert all("token" not in t for t in listed)  # never a secret again
    assert revoked.status_code == 200 and revoked.json()["live"] is False
    assert after == []
    assert [t["id"] for t in with_revoked.json()["items"]] == [token_id]


def test_another_users_token_cannot_be_seen_or_revoked(app: AuthApp) -> None:
    alice, bob = _user(app), _user(app)
    bobs = app.my_token(bob)

    seen = app.http.get(f"/api/v1/me/tokens/{bobs['id']}", auth=alice)
    revoked = app.http.delete(f"/api/v1/me/tokens/{bobs['id']}", auth=alice)
    listed = app.http.get("/api/v1/me/tokens", auth=alice).json()["items"]

    assert seen.status_code == 404 and revoked.status_code == 404
    assert revoked.json() == {"detail": f"you have no token {bobs['id']!r}"}
    assert listed == []
    assert app.http.get("/api/v1/me", headers=bearer(bobs["token"])).status_code == 200


def test_a_token_cannot_get_push_where_its_user_only_pulls(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull"]})

    push = app.http.post(
        "/api/v1/me/tokens",
        json={
            "name": "ci",
            "permissions": [{"namespace": "team/app", "actions": ["pull", "push"]}],
        },
        auth=alice,
    )
    everything = app.http.post(
        "/api/v1/me/tokens",
        json={"name": "ci", "permissions": [{"namespace": "*", "actions": ["pull"]}]},
        auth=alice,
    )

    assert push.status_code == 403
    assert push.json()["detail"].endswith(f"{alice[0]} may not push on team/app")
    assert everything.status_code == 403
    assert app.http.get("/api/v1/me/tokens", auth=alice).json()["items"] == []


def test_a_limited_token_does_only_what_it_is_limited_to(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull", "push"]})
    limits = [{"namespace": "team/app", "actions": ["pull"]}]
    limited = app.my_token(alice, permissions=limits)
    with_token = (alice[0], limited["token"])

    upload = app.http.post("/v2/team/app/blobs/uploads/", auth=with_token)
    other = app.http.get("/v2/team/other/manifests/v1", auth=with_token)

    assert limited["permissions"] == limits
    assert _access(app, with_token, "repository:team/app:pull,push") == ["pull"]
    assert _access(app, alice, "repository:team/app:pull,push") == ["pull", "push"]
    assert upload.status_code == 403 and other.status_code == 403
    assert app.http.get("/v2/team/app/manifests/v1", auth=with_token).status_code == 200


def test_a_limited_token_never_makes_a_wider_one(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull", "push"]})
    limited = app.my_token(alice, permissions=[{"namespace": "team/app", "actions": ["pull"]}])
    caller = bearer(limited["token"])

    child = app.http.post("/api/v1/me/tokens", json={"name": "child"}, headers=caller)
    wider = app.http.post(
        "/api/v1/me/tokens",
        json={"name": "wider", "permissions": [{"namespace": "team", "actions": ["pull"]}]},
        headers=caller,
    )

    assert child.status_code == 201
    assert child.json()["permissions"] == [{"namespace": "team/app", "actions": ["pull"]}]
    assert wider.status_code == 403


def test_taking_a_grant_away_narrows_the_users_existing_tokens(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull", "push"]})
    token = (alice[0], app.my_token(alice)["token"])
    assert _access(app, token, "repository:team/app:pull,push") == ["pull", "push"]

    app.grant(alice[0], "team", ["pull"])

    assert _access(app, token, "repository:team/app:pull,push") == ["pull"]
    assert app.http.post("/v2/team/app/blobs/uploads/", auth=token).status_code == 403


def test_a_revoked_token_stops_on_v2_token_auth_and_on_me(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull"]})
    created = app.my_token(alice)
    by_token = (alice[0], created["token"])
    jwt = app.registry_token(by_token, "repository:team/app:pull")
    assert app.http.get("/v2/team/app/manifests/v1", headers=bearer(jwt)).status_code == 200

    revoked = app.http.delete(
        f"/api/v1/me/tokens/{created['id']}", headers=bearer(created["token"])
    )

    assert revoked.status_code == 200  # a token may revoke itself
    assert (
        app.http.get(
            "/auth/token", params={"scope": "repository:team/app:pull"}, auth=by_token
        ).status_code
        == 401
    )
    assert app.http.get("/v2/team/app/manifests/v1", headers=bearer(jwt)).status_code == 401
    assert app.http.get("/api/v1/me", headers=bearer(created["token"])).status_code == 401


def test_a_user_reaches_me_and_no_other_management_route(app: AuthApp) -> None:
    alice = _user(app, {"team": ["pull"]})

    me = app.http.get("/api/v1/me", auth=alice)
    users = app.http.get("/api/v1/users", auth=alice)
    tokens = app.http.get("/api/v1/tokens", auth=alice)

    assert me.json() == {
        "username": alice[0], "kind": "user", "admin": False,
        "permissions": [{"namespace": "team", "actions": ["pull"]}], "public": [], "token": None,
    }  # fmt: skip
    assert users.status_code == 403 and tokens.status_code == 403
    assert app.http.get("/api/v1/me").status_code == 401


def test_an_admins_limited_token_is_no_admin_credential(app: AuthApp) -> None:
    limited = app.my_token(ADMIN, permissions=[{"namespace": "team", "actions": ["pull"]}])

    users = app.http.get("/api/v1/users", headers=bearer(limited["token"]))
    upload = app.http.post("/v2/team/app/blobs/uploads/", headers=bearer(limited["token"]))

    assert users.status_code == 403
    assert users.json()["detail"] == "a token limited to some repositories is no admin credential"
    assert upload.status_code == 403


def test_live_tokens_per_user_are_bounded(app: AuthApp) -> None:
    alice = _user(app)
    for _ in range(3):
        app.my_token(alice)

    refused = app.http.post("/api/v1/me/tokens", json={"name": "one more"}, auth=alice)

    assert refused.status_code == 409
    assert "auth.personal_tokens_per_user" in refused.json()["detail"]


def test_creating_and_revoking_are_audited_with_the_user_as_actor(app: AuthApp) -> None:
    alice = _user(app)
    created = app.my_token(alice, expires_in="24h")
    app.http.delete(f"/api/v1/me/tokens/{created['id']}", auth=alice)

    events = app.admin.get("/api/v1/audit", params={"actor": alice[0]}).json()["items"]

    actions = [(e["action"], e["target"], e["params"]["id"], e["status"]) for e in events]
    assert actions == [
        ("token.revoke", alice[0], created["id"], 200),
        ("token.create", alice[0], created["id"], 201),
    ]
    assert created["token"] not in str(events)
