"""Rights as sets of grants: what lies within what, the catalog's pull filter, and a token's
limits kept in the database (SQLite and PostgreSQL) cutting its rights at each use."""

from __future__ import annotations

import pytest

from registry.auth import permissions, users
from registry.auth.credentials import check_bearer_token
from registry.auth.permissions import PermissionInvalid, allowed_actions
from registry.auth.personal import create_personal_token, parse_limits
from registry.auth.rights import Grant, PullFilter, beyond
from registry.auth.tokens import TokenForbidden, TooManyTokens
from registry.db.database import Database

TEAM_PULL = (Grant("team", frozenset({"pull"})),)


def _grants(*pairs: tuple[str, str]) -> tuple[Grant, ...]:
    return tuple(Grant(ns, frozenset(actions.split(","))) for ns, actions in pairs)


def test_a_wanted_grant_is_within_when_a_held_one_covers_its_whole_namespace() -> None:
    held = _grants(("team", "pull"), ("team/app", "push"), ("*", "delete"))

    assert beyond(_grants(("team/app", "pull,push,delete")), held) == []
    assert beyond(_grants(("team", "push")), held) == ["push on team"]
    assert beyond(_grants(("*", "pull")), held) == ["pull on *"]
    assert beyond(_grants(("teammate", "pull")), held) == ["pull on teammate"]
    assert beyond(_grants(("*", "pull,push")), None) == []  # an admin holds everything


def test_the_pull_filter_shows_what_every_set_lets_pull_and_prunes_the_rest() -> None:
    shown = PullFilter((_grants(("team", "pull"), ("zoo", "push")), _grants(("team/a", "pull"))))

    assert [n for n in ("team", "team/a", "team/a/b", "team/b", "zoo/x") if shown.shows(n)] == [
        "team/a",
        "team/a/b",
    ]
    assert shown.may_hold(["team"]) and shown.may_hold(["team", "a", "b"])
    assert not shown.may_hold(["zoo"]) and not shown.may_hold(["teamx"])


def test_limits_are_validated_and_merged_per_namespace() -> None:
    limits = parse_limits([("team", ["pull"]), ("team", ["push"]), ("anonymous", ["push"])])

    assert limits == _grants(("anonymous", "push"), ("team", "pull,push"))
    with pytest.raises(PermissionInvalid):
        parse_limits([("../etc", ["pull"])])
    with pytest.raises(PermissionInvalid):
        parse_limits([("team", ["own"])])


def test_a_tokens_limits_are_stored_and_cut_its_rights_at_each_use(db: Database) -> None:
    alice = users.create_user(db, users.NewUser("alice", "alice-password"))
    permissions.set_permission(db, "alice", "team", ["pull", "push"])
    issued = create_personal_token(db, alice, "ci", None, TEAM_PULL, None, max_live=10)

    principal = check_bearer_token(db, issued.token)
    assert principal is not None and principal.limits == TEAM_PULL
    assert allowed_actions(db, "alice", False, "team/app", principal.limits) == {"pull"}

    permissions.remove_permission(db, "alice", "team")
    again = check_bearer_token(db, issued.token)
    assert again is not None
    assert allowed_actions(db, "alice", False, "team/app", again.limits) == set()


def test_a_token_beyond_its_user_or_its_caller_is_refused(db: Database) -> None:
    bob = users.create_user(db, users.NewUser("bob", "bob-password-1"))
    permissions.set_permission(db, "bob", "team", ["pull"])
    push = _grants(("team", "pull,push"))

    with pytest.raises(TokenForbidden, match="bob may not push on team"):
        create_personal_token(db, bob, "ci", None, push, None, max_live=10)
    with pytest.raises(TokenForbidden, match="pull on other"):
        create_personal_token(db, bob, "ci", None, _grants(("other", "pull")), TEAM_PULL, 10)
    inherited = create_personal_token(db, bob, "child", None, None, TEAM_PULL, max_live=1)
    assert inherited.row.permissions == [{"namespace": "team", "actions": ["pull"]}]
    with pytest.raises(TooManyTokens):
        create_personal_token(db, bob, "one more", None, None, None, max_live=1)
