"""A retention policy: the JSON contract (`PolicySpec`), its checks, and the `retention`
task's params. A policy that cannot work is refused with 400 (`InvalidPolicy`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from registry.content.repository_globs import InvalidGlob, RepositoryGlob, compile_glob
from registry.durations import parse_duration
from registry.errors import RegistryError
from registry.maintenance.retention import KeepRules
from registry.tasks.params import PolicyName

KEEP_FIELDS = ("keep_last", "keep_within", "keep_tags")


class InvalidPolicy(RegistryError):
    code, status, default_message = "INVALID_POLICY", 400, "invalid retention policy"


class PolicyNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "retention policy not found"


class PolicyExists(RegistryError):
    code, status, default_message = "CONFLICT", 409, "retention policy already exists"


class PolicySpec(BaseModel):
    """The policy as stored and served (every keep field optional)."""

    model_config = ConfigDict(extra="forbid")

    name: PolicyName
    repositories: str = Field(description="repository glob: `team/**`, `team/*`, `**`")
    keep_last: int | None = Field(None, description="keep the newest N tags by push time")
    keep_within: str | int | float | None = Field(
        None, description="keep tags pushed within this duration (`14d`, or seconds)"
    )
    keep_tags: str | None = Field(None, description="keep tags this regex finds (re.search)")
    delete_untagged: bool = False
    cron: str | None = Field(None, description="5-field cron in UTC: runs on its own schedule")
    gc_after: bool = Field(False, description="enqueue a gc when a real run succeeds")
    enabled: bool = Field(True, description="whether the cron schedule fires")
    confirm_delete_all: bool = Field(False, description="required when no keep field is set")


class PolicyPatch(BaseModel):
    """PATCH: the fields given replace the stored ones (null clears an optional one)."""

    model_config = ConfigDict(extra="forbid")

    repositories: str | None = None
    keep_last: int | None = None
    keep_within: str | int | float | None = None
    keep_tags: str | None = None
    delete_untagged: bool | None = None
    cron: str | None = None
    gc_after: bool | None = None
    enabled: bool | None = None
    confirm_delete_all: bool | None = None


@dataclass(frozen=True)
class CompiledPolicy:
    spec: PolicySpec
    glob: RepositoryGlob
    rules: KeepRules


def compile_policy(spec: PolicySpec) -> CompiledPolicy:
    """The policy ready to run; InvalidPolicy naming the field otherwise. The cron field is
    checked where schedules are (registry/tasks/retention.py)."""
    try:
        glob = compile_glob(spec.repositories)
    except InvalidGlob as exc:
        raise InvalidPolicy(f"repositories: {exc}") from None
    if spec.keep_last is not None and spec.keep_last < 1:
        raise InvalidPolicy(f"keep_last: must be at least 1, got {spec.keep_last}")
    rules = KeepRules(spec.keep_last, _within(spec.keep_within), _pattern(spec.keep_tags))
    if rules.empty and not spec.confirm_delete_all:
        raise InvalidPolicy(
            "no keep field (keep_last, keep_within, keep_tags): the policy would delete every "
            'tag of the repositories it selects; set "confirm_delete_all": true if that is meant'
        )
    return CompiledPolicy(spec, glob, rules)


def _within(value: str | float | None) -> timedelta | None:
    if value is None:
        return None
    try:
        within = parse_duration(value)
    except (ValueError, OverflowError) as exc:  # overflow: more days than timedelta holds
        raise InvalidPolicy(f"keep_within: {exc}") from None
    if not within:
        raise InvalidPolicy("keep_within: must be longer than 0 (it would keep nothing)")
    return within


def _pattern(text: str | None) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except (re.error, OverflowError, RecursionError) as exc:
        raise InvalidPolicy(f"keep_tags: not a valid regular expression: {exc}") from None


def patched(spec: PolicySpec, patch: PolicyPatch) -> PolicySpec:
    """`spec` with the fields the patch sets; booleans cannot be cleared, only set."""
    changes = patch.model_dump(exclude_unset=True)
    for flag in ("repositories", "delete_untagged", "gc_after", "enabled", "confirm_delete_all"):
        if flag in changes and changes[flag] is None:
            raise InvalidPolicy(f"{flag}: cannot be null")
    return PolicySpec.model_validate({**spec.model_dump(), **changes})
