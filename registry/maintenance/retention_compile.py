"""A retention policy made ready to run: its repository glob and keep rules, built from the
stored document (registry/tasks/retention_policy.py), or `InvalidPolicy` (400) naming the
field that cannot work (docs/retention.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from registry.content.repository_globs import InvalidGlob, RepositoryGlob, compile_glob
from registry.durations import parse_duration
from registry.maintenance.retention import KeepRules
from registry.tasks.retention_policy import InvalidPolicy, PolicySpec


@dataclass(frozen=True)
class CompiledPolicy:
    spec: PolicySpec
    glob: RepositoryGlob
    rules: KeepRules


def compile_policy(spec: PolicySpec) -> CompiledPolicy:
    """The policy ready to run; InvalidPolicy naming the field otherwise. The API runs it
    before a policy is stored, the `retention` task before a run; the cron field is checked
    where schedules are (registry/tasks/retention.py)."""
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
