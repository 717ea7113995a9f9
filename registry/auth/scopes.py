"""Docker token scopes (`repository:NAME:pull,push`, `registry:catalog:*`) and actions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from registry.content.names import NAME_PATTERN

ACTIONS = ("pull", "push", "delete")
CATALOG = "catalog"
_RESOURCE_TYPE = re.compile(r"[a-z0-9]+(?:\([a-z0-9]+\))?")
_NAME = re.compile(NAME_PATTERN)


class ScopeInvalid(ValueError):
    """A scope string that does not parse."""


@dataclass(frozen=True, slots=True)
class Scope:
    type: str  # repository | registry
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def claim(self) -> dict[str, object]:
        """The entry of the JWT's `access` claim (Docker's token format)."""
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scope(text: str) -> Scope:
    """One scope; a resource class such as `repository(plugin)` is read as its type."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not _RESOURCE_TYPE.fullmatch(kind):
        raise ScopeInvalid(f"invalid scope {text!r}")
    kind = kind.split("(", 1)[0]
    wanted = frozenset(a for a in actions.split(",") if a)
    if kind == "repository":
        if not _NAME.fullmatch(name) or len(name) > 255:
            raise ScopeInvalid(f"invalid repository name in scope {text!r}")
        wanted = frozenset(ACTIONS) if "*" in wanted else wanted & frozenset(ACTIONS)
    elif kind == "registry":
        if name != CATALOG:
            raise ScopeInvalid(f"unknown registry resource in scope {text!r}")
        wanted = wanted & frozenset({"*"})
    else:
        raise ScopeInvalid(f"unknown resource type in scope {text!r}")
    return Scope(kind, name, wanted)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every scope of repeated `scope` parameters, each possibly space-separated."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for text in value.split():
            scope = parse_scope(text)
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(kind, name, frozenset(acts)) for (kind, name), acts in merged.items()]


def parse_claim(access: object) -> dict[tuple[str, str], frozenset[str]]:
    """A verified JWT's `access` claim as {(type, name): actions}; malformed entries dropped."""
    granted: dict[tuple[str, str], frozenset[str]] = {}
    if not isinstance(access, list):
        return granted
    for entry in access:
        if not isinstance(entry, dict):
            continue
        kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if isinstance(kind, str) and isinstance(name, str) and isinstance(actions, list):
            granted[(kind, name)] = frozenset(a for a in actions if isinstance(a, str))
    return granted
