"""Immutable tags: rules that select repositories by glob and tags by regular expression.

A protected tag, once it exists, keeps its digest: a push that would move it and a delete
that would remove it (by tag, or by the digest it points at) are refused with 412 and the
OCI code DENIED, as Harbor does. Creating it (first push) and re-pushing the same digest
are allowed. The rules are plain values here; where they are stored and how a push
serializes with other pushes of the same tag is the `TagGuard` a caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from registry.content.repository_globs import RepositoryGlob, compile_glob
from registry.errors import RegistryError

MAX_TAG_PATTERN_LENGTH = 1024
RULE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class InvalidRule(ValueError):
    """A rule's name, repository glob or tag pattern cannot be used."""


class TagProtected(RegistryError):
    # Harbor answers 412 to a push or delete of an immutable tag; DENIED is the code of
    # Harbor 1.10 and of the distribution spec (Harbor 2 says PRECONDITION, which no client
    # knows), so docker and skopeo print "denied: ...".
    code, status = "DENIED", 412
    default_message = "the tag is protected (immutable)"

    def __init__(self, repository: str, tag: str, rule: str) -> None:
        message = f"Failed to process request due to '{repository}:{tag}' configured as immutable."
        super().__init__(message, {"repository": repository, "tag": tag, "rule": rule})


@dataclass(frozen=True)
class ProtectionRule:
    """One rule: tags whose whole name matches `tags` in repositories `repositories` selects."""

    name: str
    repositories: RepositoryGlob
    tags: re.Pattern[str]

    def matches(self, repository: str, tag: str) -> bool:
        return self.repositories.matches(repository) and self.tags.fullmatch(tag) is not None


def compile_rule(name: str, repositories: str, tags: str) -> ProtectionRule:
    """The rule, or InvalidRule saying which part is wrong."""
    if not RULE_NAME.fullmatch(name):
        raise InvalidRule(
            f"rule name {name!r}: 1 to 64 of lowercase letters, digits, '.', '_', '-', "
            "starting with a letter or digit"
        )
    try:
        glob = compile_glob(repositories)
    except ValueError as exc:
        raise InvalidRule(str(exc)) from None
    if not tags or len(tags) > MAX_TAG_PATTERN_LENGTH:
        raise InvalidRule(f"a tag pattern has 1 to {MAX_TAG_PATTERN_LENGTH} characters")
    try:
        pattern = re.compile(tags)
    except re.error as exc:
        raise InvalidRule(f"tag pattern {tags!r} is not a regular expression: {exc}") from None
    return ProtectionRule(name, glob, pattern)


@dataclass(frozen=True)
class TagProtection:
    """Every rule in force; a tag is protected when any rule matches it (Harbor: OR)."""

    rules: tuple[ProtectionRule, ...] = ()

    def rule_for(self, repository: str, tag: str) -> ProtectionRule | None:
        return next((rule for rule in self.rules if rule.matches(repository, tag)), None)

    def protects(self, repository: str, tag: str) -> bool:
        """The callable retention takes as `protected(repository, tag)`."""
        return self.rule_for(repository, tag) is not None

    def check(self, repository: str, tags: Iterable[str]) -> None:
        """TagProtected for the first of `tags` a rule protects."""
        for tag in tags:
            rule = self.rule_for(repository, tag)
            if rule is not None:
                raise TagProtected(repository, tag, rule.name)


class TagGuard(Protocol):
    """What the manifest routes need from wherever the rules live."""

    def protection(self) -> TagProtection:
        """The rules in force now (cached: cheap to call on every push)."""
        ...

    def serialized(self, repository: str, tag: str, digest: str) -> AbstractContextManager[None]:
        """Hold off every other push of this protected tag, on any instance, while the
        caller checks the tag and links it."""
        ...
