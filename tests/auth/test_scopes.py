"""Parsing Docker token scopes and cutting them down to what a user may do."""

from __future__ import annotations

import pytest

from registry.auth.scopes import Scope, ScopeInvalid, parse_claim, parse_scope, parse_scopes


def test_repository_scope_parses_name_with_slashes_and_actions() -> None:
    scope = parse_scope("repository:team/sub/app:pull,push")
    assert scope == Scope("repository", "team/sub/app", frozenset({"pull", "push"}))
    assert str(scope) == "repository:team/sub/app:pull,push"


def test_wildcard_means_every_repository_action() -> None:
    assert parse_scope("repository:a:*").actions == {"pull", "push", "delete"}


def test_resource_class_is_read_as_its_type_and_unknown_actions_dropped() -> None:
    assert parse_scope("repository(plugin):a/b:pull,fly") == Scope(
        "repository", "a/b", frozenset({"pull"})
    )


def test_catalog_scope() -> None:
    assert parse_scope("registry:catalog:*") == Scope("registry", "catalog", frozenset({"*"}))


@pytest.mark.parametrize(
    "text",
    ["", "repository", "repository:a", "repository:../x:pull", "repository:A:pull",
     "registry:other:*", "user:a:pull", "repository:a//b:pull"],
)  # fmt: skip
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeInvalid):
        parse_scope(text)


def test_repeated_and_space_separated_scopes_merge() -> None:
    scopes = parse_scopes(["repository:a:pull repository:b:push", "repository:a:delete"])
    assert {(s.name, s.actions) for s in scopes} == {
        ("a", frozenset({"pull", "delete"})),
        ("b", frozenset({"push"})),
    }


def test_claim_parsing_drops_malformed_entries() -> None:
    claim = [{"type": "repository", "name": "a", "actions": ["pull"]}, {"type": 1}, "x"]
    assert parse_claim(claim) == {("repository", "a"): frozenset({"pull"})}
    assert parse_claim("nonsense") == {}
