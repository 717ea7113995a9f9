"""Namespace grants on a real (SQLite) database: coverage, anonymous, admins, tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from registry.auth import permissions, tokens, users
from registry.auth.credentials import check_credentials
from registry.auth.permissions import PermissionInvalid, allowed_actions, covers, grant_scopes
from registry.auth.scopes import parse_scopes
from registry.config import parse_settings
from registry.db.database import Database, open_database


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return open_database(parse_settings({"data_dir": str(tmp_path)}))


def test_a_namespace_covers_itself_and_below_but_not_siblings() -> None:
    assert covers("team", "team")
    assert covers("team", "team/app")
    assert not covers("team", "teammate/app")
    assert covers("*", "anything/at/all")


def test_grants_add_up_with_public_pulls(db: Database) -> None:
    permissions.set_permission(db, "alice", "team", ["push"])
    permissions.set_permission(db, "alice", "team/app", ["delete"])
    permissions.set_permission(db, "anonymous", "team", ["pull"])

    assert allowed_actions(db, "alice", False, "team/app") == {"pull", "push", "delete"}
    assert allowed_actions(db, "alice", False, "team/other") == {"pull", "push"}
    assert allowed_actions(db, None, False, "team/app") == {"pull"}
    assert allowed_actions(db, "bob", False, "elsewhere") == set()
    assert allowed_actions(db, "bob", True, "elsewhere") == {"pull", "push", "delete"}


def test_anonymous_may_only_be_granted_pull(db: Database) -> None:
    with pytest.raises(PermissionInvalid):
        permissions.set_permission(db, "anonymous", "team", ["push"])
    with pytest.raises(PermissionInvalid):
        permissions.set_permission(db, "alice", "../etc", ["pull"])


def test_granted_scopes_are_the_intersection(db: Database) -> None:
    permissions.set_permission(db, "alice", "team", ["pull"])
    scopes = parse_scopes(["repository:team/app:pull,push", "registry:catalog:*"])

    granted = grant_scopes(db, "alice", False, scopes)

    assert [(s.name, s.actions) for s in granted] == [
        ("team/app", frozenset({"pull"})),
        ("catalog", frozenset({"*"})),  # every user's catalog: what they may pull
    ]
    assert grant_scopes(db, None, False, scopes)[1].actions == frozenset()  # not anonymous


def test_password_and_token_both_authenticate_and_expiry_ends_a_token(db: Database) -> None:
    user = users.create_user(db, users.NewUser("carol", "carol-password"))
    live = tokens.create_token(db, user, "live", "personal")
    expiring = tokens.create_token(db, user, "soon", "personal", tokens.expiry(timedelta(hours=1)))

    assert check_credentials(db, "carol", "carol-password") is not None
    assert check_credentials(db, "carol", live.token) is not None
    assert check_credentials(db, "mallory", live.token) is None  # someone else's token
    assert check_credentials(db, "carol", "wrong-password") is None
    assert tokens.verify_token(db, expiring.token) is not None
    row = expiring.row
    row.expires_at = row.created_at - timedelta(seconds=1)
    assert not tokens.is_live(row)
