"""Retention's selection (registry/maintenance/retention.py) and policy checks, without
storage: each rule, their union, protection, and which untagged manifests stay."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.maintenance.retention import (
    KeepRules,
    ManifestNode,
    Protected,
    TagState,
    kept_manifests,
    nothing_protected,
    select_tags,
    untagged_to_delete,
)
from registry.maintenance.retention_compile import compile_policy
from registry.tasks.retention_policy import InvalidPolicy, PolicyPatch, PolicySpec, patched

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def tag(name: str, days_ago: float, digest: str = "sha256:a") -> TagState:
    return TagState(name, digest, NOW - timedelta(days=days_ago))


TAGS = [tag("v1.0.0", 30), tag("v1.1.0", 20), tag("ci-7", 15), tag("ci-8", 3), tag("latest", 1)]


def kept(
    rules: KeepRules, tags: list[TagState] = TAGS, protected: Protected = nothing_protected
) -> list[str]:
    return [t.name for t in select_tags("team/app", tags, rules, NOW, protected).kept]


def test_keep_last_keeps_the_newest_by_push_time() -> None:
    assert kept(KeepRules(keep_last=2)) == ["ci-8", "latest"]


def test_keep_within_keeps_what_was_pushed_inside_the_window() -> None:
    assert kept(KeepRules(keep_within=timedelta(days=14))) == ["ci-8", "latest"]
    assert kept(KeepRules(keep_within=timedelta(days=15))) == ["ci-7", "ci-8", "latest"]


def test_keep_tags_keeps_names_the_regex_finds() -> None:
    assert kept(KeepRules(keep_tags=re.compile(r"^v\d+"))) == ["v1.0.0", "v1.1.0"]
    assert kept(KeepRules(keep_tags=re.compile("latest"))) == ["latest"]


def test_rules_combine_as_a_union() -> None:
    rules = KeepRules(keep_last=1, keep_tags=re.compile(r"^v\d+\.\d+\.\d+$"))
    selection = select_tags("team/app", TAGS, rules, NOW)
    assert [t.name for t in selection.kept] == ["latest", "v1.0.0", "v1.1.0"]
    assert [t.name for t in selection.deleted] == ["ci-7", "ci-8"]
    assert selection.reasons["latest"] == ["keep_last"]


def test_no_rule_keeps_only_protected_tags() -> None:
    assert kept(KeepRules()) == []
    assert kept(KeepRules(), protected=lambda repo, name: name == "ci-7") == ["ci-7"]


def test_equal_push_times_break_ties_by_name() -> None:
    tags = [tag(name, 1) for name in ("b", "a", "c")]
    assert kept(KeepRules(keep_last=2), tags) == ["b", "c"]


names = st.text("abcv0123.-", min_size=1, max_size=6)
tag_lists = st.dictionaries(names, st.integers(0, 60), max_size=12).map(
    lambda d: [tag(name, days) for name, days in d.items()]
)
rule_sets = st.builds(
    KeepRules,
    keep_last=st.none() | st.integers(1, 6),
    keep_within=st.none() | st.integers(1, 40).map(lambda d: timedelta(days=d)),
    keep_tags=st.none() | st.sampled_from(["^v", "a", r"\d$"]).map(re.compile),
)


@given(tag_lists, rule_sets)
def test_kept_is_the_union_of_what_each_rule_keeps_alone(
    tags: list[TagState], rules: KeepRules
) -> None:
    alone = [
        KeepRules(keep_last=rules.keep_last),
        KeepRules(keep_within=rules.keep_within),
        KeepRules(keep_tags=rules.keep_tags),
    ]
    union = set().union(*(kept(r, tags) for r in alone))
    selection = select_tags("team/app", tags, rules, NOW)
    assert {t.name for t in selection.kept} == union
    assert {t.name for t in selection.kept} | {t.name for t in selection.deleted} == {
        t.name for t in tags
    }


@given(tag_lists, rule_sets, st.sets(names))
def test_a_protected_tag_is_never_deleted(
    tags: list[TagState], rules: KeepRules, protected: set[str]
) -> None:
    selection = select_tags("team/app", tags, rules, NOW, lambda repo, name: name in protected)
    assert not {t.name for t in selection.deleted} & protected


def test_a_kept_index_keeps_its_children_and_their_referrers() -> None:
    nodes = {
        "idx": ManifestNode("idx", children=("amd", "arm")),
        "amd": ManifestNode("amd"),
        "arm": ManifestNode("arm"),
        "sig": ManifestNode("sig", subject="amd"),
        "old": ManifestNode("old"),
        "oldsig": ManifestNode("oldsig", subject="old"),
    }
    assert kept_manifests(["idx"], nodes) == {"idx", "amd", "arm", "sig"}
    assert untagged_to_delete(["idx"], nodes) == ["oldsig", "old"]


def test_a_kept_referrer_keeps_its_subject() -> None:
    nodes = {"img": ManifestNode("img"), "sbom": ManifestNode("sbom", subject="img")}
    assert untagged_to_delete(["sbom"], nodes) == []


def test_parents_are_deleted_before_what_they_name() -> None:
    nodes = {
        "a-child": ManifestNode("a-child"),
        "z-index": ManifestNode("z-index", children=("a-child",)),
        "b-sig": ManifestNode("b-sig", subject="z-index"),
    }
    assert untagged_to_delete([], nodes) == ["b-sig", "z-index", "a-child"]


def spec(**fields: object) -> PolicySpec:
    return PolicySpec.model_validate({"name": "ci", "repositories": "team/**", **fields})


def test_the_contract_example_compiles() -> None:
    policy = compile_policy(
        spec(keep_last=10, keep_within="14d", keep_tags=r"^v\d+", cron="0 2 * * *")
    )
    assert policy.rules.keep_within == timedelta(days=14)
    assert policy.glob.matches("team/a/b") and not policy.glob.matches("team")
    assert compile_policy(spec(keep_within=3600)).rules.keep_within == timedelta(hours=1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "no keep field"),
        ({"repositories": "Team/**", "keep_last": 1}, "repositories:"),
        ({"keep_tags": "(unclosed"}, "keep_tags: not a valid regular expression"),
        ({"keep_within": "two weeks"}, "keep_within: invalid duration"),
        ({"keep_within": "0s"}, "keep_within: must be longer than 0"),
        ({"keep_within": 1e300}, "keep_within:"),
        ({"keep_tags": "a{99999999999}"}, "keep_tags:"),
        ({"keep_last": 0}, "keep_last: must be at least 1"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPolicy, match=re.escape(message)) as raised:
        compile_policy(spec(**fields))
    assert raised.value.status == 400


def test_delete_all_needs_the_confirmation() -> None:
    assert compile_policy(spec(confirm_delete_all=True)).rules.empty


def test_a_patch_changes_only_the_fields_it_sets() -> None:
    before = spec(keep_last=5, keep_tags="^v")
    after = patched(before, PolicyPatch.model_validate({"keep_last": None, "gc_after": True}))
    assert (after.keep_last, after.keep_tags, after.gc_after) == (None, "^v", True)
    with pytest.raises(InvalidPolicy, match="enabled: cannot be null"):
        patched(before, PolicyPatch.model_validate({"enabled": None}))
