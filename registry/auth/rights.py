"""Rights as sets of grants (namespace -> actions): what a user holds, what a personal token
is limited to, whether one set lies within another, and which repositories a set lets pull
(the catalog's filter). A token's rights are its user's rights, evaluated at each use, cut
down by the token's limits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EVERYTHING = "*"


@dataclass(frozen=True, slots=True)
class Grant:
    namespace: str  # a repository name covering itself and everything under it, or "*"
    actions: frozenset[str]

    def covers(self, repository: str) -> bool:
        return (
            self.namespace == EVERYTHING
            or repository == self.namespace
            or repository.startswith(self.namespace + "/")
        )

    def may_hold(self, components: list[str]) -> bool:
        """Whether a repository at or under `components` could be covered by this grant."""
        if self.namespace == EVERYTHING:
            return True
        mine = self.namespace.split("/")
        shorter = min(len(mine), len(components))
        return mine[:shorter] == components[:shorter]

    def as_dict(self) -> dict[str, object]:
        return {"namespace": self.namespace, "actions": sorted(self.actions)}


# None where a Grants is expected means everything: an admin's rights, or no token limits.
Grants = tuple[Grant, ...]


def actions_in(grants: Iterable[Grant], repository: str) -> set[str]:
    """The actions `grants` allow in `repository` (grants add up)."""
    allowed: set[str] = set()
    for grant in grants:
        if grant.covers(repository):
            allowed |= grant.actions
    return allowed


def intersect_actions(actions: set[str], limits: Grants | None, repository: str) -> set[str]:
    return actions if limits is None else actions & actions_in(limits, repository)


def beyond(wanted: Iterable[Grant], held: Grants | None) -> list[str]:
    """What of `wanted` `held` does not give, as "action on namespace" phrases (empty: all
    within). A wanted grant on a namespace needs each action on the whole namespace: a
    grant of that action on it, on a namespace above it, or on `*`."""
    if held is None:
        return []
    missing = []
    for grant in wanted:
        for action in sorted(grant.actions):
            if not any(
                action in have.actions and _covers_namespace(have, grant.namespace) for have in held
            ):
                missing.append(f"{action} on {grant.namespace}")
    return missing


def _covers_namespace(have: Grant, namespace: str) -> bool:
    if namespace == EVERYTHING:
        return have.namespace == EVERYTHING
    return have.covers(namespace)


def from_json(value: object) -> Grants | None:
    """Limits as stored with a token (a JSON list of {namespace, actions}); None: none."""
    if not isinstance(value, list):
        return None
    grants = []
    for entry in value:
        if isinstance(entry, dict):
            namespace, actions = entry.get("namespace"), entry.get("actions")
            if isinstance(namespace, str) and isinstance(actions, list):
                grants.append(Grant(namespace, frozenset(a for a in actions if isinstance(a, str))))
    return tuple(grants)


def to_json(grants: Grants | None) -> list[dict[str, object]] | None:
    return None if grants is None else [grant.as_dict() for grant in grants]


@dataclass(frozen=True)
class PullFilter:
    """The repositories every one of `sets` lets pull: the catalog of a non-admin (the
    user's grants, and a token's limits when it has some)."""

    sets: tuple[Grants, ...]

    def shows(self, name: str) -> bool:
        return all("pull" in actions_in(grants, name) for grants in self.sets)

    def may_hold(self, components: list[str]) -> bool:
        """False only when nothing at or under `components` can be shown (the walk skips it)."""
        return all(
            any("pull" in grant.actions and grant.may_hold(components) for grant in grants)
            for grants in self.sets
        )
