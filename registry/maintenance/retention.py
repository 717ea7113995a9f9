"""Retention's selection, as Harbor's tag retention combines rules: a tag stays if ANY keep
rule (or the protection hook) keeps it; with `delete_untagged`, a manifest stays if a kept tag
reaches it through index children, referrers or a referrer's subject (docs/retention.md).

Pure functions over what a repository holds: no storage, no clock of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# (repository, tag) -> True when the tag must never be deleted (immutable-tag rules).
Protected = Callable[[str, str], bool]


def nothing_protected(repository: str, tag: str) -> bool:
    return False


@dataclass(frozen=True)
class KeepRules:
    """The keep fields of a policy, parsed; all None keeps nothing but protected tags."""

    keep_last: int | None = None
    keep_within: timedelta | None = None
    keep_tags: re.Pattern[str] | None = None

    @property
    def empty(self) -> bool:
        return self.keep_last is None and self.keep_within is None and self.keep_tags is None


@dataclass(frozen=True)
class TagState:
    name: str
    digest: str
    pushed_at: datetime  # when the tag last moved (its current/link was written)


@dataclass(frozen=True)
class ManifestNode:
    """A manifest revision of the repository and the manifests it names."""

    digest: str
    children: tuple[str, ...] = ()  # index / manifest list entries
    subject: str | None = None  # OCI referrers: the manifest it refers to


@dataclass
class TagSelection:
    kept: list[TagState] = field(default_factory=list)
    deleted: list[TagState] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # kept tag -> rules keeping it


def select_tags(
    repository: str,
    tags: Iterable[TagState],
    rules: KeepRules,
    now: datetime,
    protected: Protected = nothing_protected,
) -> TagSelection:
    """Split the repository's tags into kept and deleted (each list sorted by name)."""
    tags = list(tags)
    reasons: dict[str, list[str]] = {}

    def keep(tag: TagState, why: str) -> None:
        reasons.setdefault(tag.name, []).append(why)

    if rules.keep_last is not None:
        # Newest first; equal push times fall back to the name, so a run is deterministic.
        newest = sorted(tags, key=lambda t: (t.pushed_at, t.name), reverse=True)
        for tag in newest[: rules.keep_last]:
            keep(tag, "keep_last")
    for tag in tags:
        if rules.keep_within is not None and now - tag.pushed_at <= rules.keep_within:
            keep(tag, "keep_within")
        if rules.keep_tags is not None and rules.keep_tags.search(tag.name):
            keep(tag, "keep_tags")
        if protected(repository, tag.name):
            keep(tag, "protected")
    ordered = sorted(tags, key=lambda t: t.name)
    return TagSelection(
        kept=[t for t in ordered if t.name in reasons],
        deleted=[t for t in ordered if t.name not in reasons],
        reasons=reasons,
    )


def kept_manifests(roots: Iterable[str], nodes: Mapping[str, ManifestNode]) -> set[str]:
    """Every manifest the roots (digests of kept tags) hold: index children, referrers of
    a kept manifest, and the subject of a kept referrer, transitively."""
    referrers: dict[str, list[str]] = {}
    for node in nodes.values():
        if node.subject is not None:
            referrers.setdefault(node.subject, []).append(node.digest)
    kept: set[str] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest in kept:
            continue
        kept.add(digest)
        found = nodes.get(digest)
        if found is not None:
            stack.extend(found.children)
            if found.subject is not None:
                stack.append(found.subject)
        stack.extend(referrers.get(digest, ()))
    return kept


def untagged_to_delete(roots: Iterable[str], nodes: Mapping[str, ManifestNode]) -> list[str]:
    """The revisions no kept tag holds, parents before what they name: an index before its
    children, a referrer before its subject, so a stop midway never leaves a manifest that
    names a deleted one."""
    doomed = set(nodes) - kept_manifests(roots, nodes)
    named_by: dict[str, list[str]] = {}
    for other in sorted(doomed):
        node = nodes[other]
        for named in (*node.children, *((node.subject,) if node.subject else ())):
            named_by.setdefault(named, []).append(other)
    order: list[str] = []
    placed: set[str] = set()

    def place(digest: str) -> None:
        # Post-order over "is named by": whatever names `digest` is placed first.
        if digest in placed:
            return
        placed.add(digest)
        for parent in named_by.get(digest, ()):
            place(parent)
        order.append(digest)

    for digest in sorted(doomed):
        place(digest)
    return order
