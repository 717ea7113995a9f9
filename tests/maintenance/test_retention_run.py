"""A retention run over a filesystem tree built as pushes leave it (retention_run.py):
tag link times as push times, dry run, untagged manifests with indexes and referrers,
the grace period, tags that move during a run, cancel between repositories."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.content.referrers import referrer_digests
from registry.maintenance.progress import TaskCancelled
from registry.maintenance.retention_compile import compile_policy
from registry.maintenance.retention_run import Retention
from registry.tasks.retention_policy import PolicySpec
from tests.maintenance.trees import Tree


def policy(**fields: Any) -> Any:
    return compile_policy(PolicySpec.model_validate({"name": "p", "repositories": "**", **fields}))


def pushed(tree: Tree, repo: str, tag: str, days_ago: float) -> str:
    """An image tagged `tag` whose tag link was written `days_ago` days ago."""
    digest = tree.image(repo, tag).manifest
    tree.age_path(layout.tag_current_link(repo, tag), timedelta(days=days_ago))
    return digest


def tags(tree: Tree, repo: str) -> list[str]:
    return sorted(p.rpartition("/")[2] for p in tree.driver.list(layout.tags_root(repo)))


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


def test_push_time_is_the_tag_link_time(tree: Tree) -> None:
    for number, days in enumerate([40, 30, 20, 10, 1]):
        pushed(tree, "team/app", f"ci-{number}", days)
    result = Retention(tree.driver, policy(keep_last=2)).run()
    assert result.to_dict()["deleted"] == {
        "team/app": {"tags": ["ci-0", "ci-1", "ci-2"], "manifests": []}
    }
    assert tags(tree, "team/app") == ["ci-3", "ci-4"]


def test_dry_run_reports_the_same_and_changes_nothing(tree: Tree) -> None:
    for number in range(4):
        pushed(tree, "team/app", f"ci-{number}", 20 + number)
    tree.image("team/app")  # untagged
    before = tree.files()
    rules = policy(keep_within="14d", delete_untagged=True)
    dry = Retention(tree.driver, rules, dry_run=True).run().to_dict()
    assert tree.files() == before
    real = Retention(tree.driver, rules).run().to_dict()
    assert {**dry, "dry_run": False, "seconds": 0} == {**real, "seconds": 0}
    assert real["tags_deleted"] == 4 and real["manifests_deleted"] == 5


def test_the_glob_selects_repositories(tree: Tree) -> None:
    pushed(tree, "team/app", "old", 30)
    pushed(tree, "other/app", "old", 30)
    Retention(tree.driver, policy(repositories="team/**", keep_within="1d")).run()
    assert tags(tree, "team/app") == [] and tags(tree, "other/app") == ["old"]


def test_untagged_deletion_spares_what_kept_tags_reach(tree: Tree) -> None:
    amd, arm = tree.image("team/app"), tree.image("team/app")
    index = tree.index("team/app", [amd.manifest, arm.manifest], tag="v1")
    signature = tree.image("team/app", subject=amd.manifest).manifest
    sbom = tree.image("team/app", tag="sbom-v2", subject=tree.image("team/app").manifest)
    old = pushed(tree, "team/app", "ci-1", 30)
    old_signature = tree.image("team/app", subject=old).manifest
    result = Retention(tree.driver, policy(keep_tags="^(v|sbom)", delete_untagged=True)).run()
    deleted = result.to_dict()["deleted"]["team/app"]
    assert deleted == {"tags": ["ci-1"], "manifests": [old_signature, old]}  # referrer first
    for digest in (index, amd.manifest, arm.manifest, signature, sbom.manifest):
        assert tree.has_revision("team/app", digest)
    assert not tree.has_revision("team/app", old)
    assert referrer_digests(tree.driver, "team/app", old) == []


def test_untagged_manifests_younger_than_the_grace_period_stay(tree: Tree) -> None:
    young = tree.image("team/app").manifest
    retention = Retention(
        tree.driver, policy(keep_last=1, delete_untagged=True), untagged_grace=timedelta(hours=1)
    )
    outcome = retention.run().repositories[0]
    assert outcome.manifests == [] and tree.has_revision("team/app", young)
    assert "younger than the grace period" in outcome.skipped[0]


def test_a_young_untagged_index_keeps_its_old_children(tree: Tree) -> None:
    child = tree.image("team/app").manifest
    tree.age_path(layout.revision_link("team/app", child), timedelta(days=2))
    index = tree.index("team/app", [child])  # a multi-arch push, its index not tagged yet
    retention = Retention(
        tree.driver, policy(keep_last=1, delete_untagged=True), untagged_grace=timedelta(hours=1)
    )
    outcome = retention.run().repositories[0]
    assert outcome.manifests == []
    assert tree.has_revision("team/app", index) and tree.has_revision("team/app", child)


def test_protected_tags_stay(tree: Tree) -> None:
    pushed(tree, "team/app", "stable", 90)
    pushed(tree, "team/app", "ci-1", 90)
    Retention(
        tree.driver, policy(confirm_delete_all=True), protected=lambda r, t: t == "stable"
    ).run()
    assert tags(tree, "team/app") == ["stable"]


def test_a_tag_moved_during_the_run_is_kept(tree: Tree) -> None:
    pushed(tree, "team/app", "ci-1", 30)
    retention = Retention(tree.driver, policy(keep_within="1d"))
    original = retention._tag_state

    def moving(name: str, tag: str, key: bytes | None) -> Any:
        state = original(name, tag, key)
        tree.tag(name, tag, tree.image(name).manifest)  # a push right after the scan read it
        return state

    retention._tag_state = moving  # type: ignore[method-assign]
    outcome = retention.run().repositories[0]
    assert outcome.tags == [] and tags(tree, "team/app") == ["ci-1"]
    assert "moved during the run" in outcome.skipped[0]


def test_cancel_stops_between_repositories(tree: Tree) -> None:
    for repo in ("team/a", "team/b", "team/c"):
        pushed(tree, repo, "old", 30)
    calls: list[int] = []

    def progress(phase: str, done: int, total: int | None) -> None:
        calls.append(done)
        if done == 2:
            raise TaskCancelled("cancelled on request")

    with pytest.raises(TaskCancelled):
        Retention(tree.driver, policy(keep_within="1d"), progress=progress, workers=1).run()
    assert (tags(tree, "team/a"), tags(tree, "team/b"), tags(tree, "team/c")) == ([], [], ["old"])


def test_a_second_run_deletes_nothing(tree: Tree) -> None:
    for number in range(5):
        pushed(tree, "team/app", f"ci-{number}", number * 5)
    tree.image("team/app")
    rules = policy(keep_last=2, delete_untagged=True)
    assert Retention(tree.driver, rules).run().to_dict()["tags_deleted"] == 3
    again = Retention(tree.driver, rules).run().to_dict()
    assert (again["tags_deleted"], again["manifests_deleted"], again["deleted"]) == (0, 0, {})
