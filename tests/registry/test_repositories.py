"""Repository enumeration and soft delete, on a real filesystem driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.content.errors import NameInvalid, NameUnknown
from registry.content.repositories import (
    DeletedRepositories,
    clear_deleted,
    deleted_names,
    deleted_repositories,
    is_deleted,
    iter_repository_dirs,
    list_repositories,
    mark_deleted,
)
from tests.maintenance.trees import Tree


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


def test_enumeration_finds_nested_repositories_and_their_parts(tree: Tree) -> None:
    tree.image("team", "1.0")
    tree.image("team/app/api", "1.0")
    tree.link("team/pushing", tree.blob(b"first layer"))

    found = {r.name: r.parts for r in iter_repository_dirs(tree.driver)}

    assert found == {
        "team": frozenset({"_manifests", "_layers"}),
        "team/app/api": frozenset({"_manifests", "_layers"}),
        "team/pushing": frozenset({"_layers"}),
    }


def test_list_repositories_counts_only_those_with_manifests(tree: Tree) -> None:
    tree.image("b", "1.0")
    tree.image("a/nested", "1.0")
    tree.link("only-blobs", tree.blob(b"layer"))

    assert list_repositories(tree.driver) == ["a/nested", "b"]


def test_empty_storage_has_no_repositories(tree: Tree) -> None:
    assert list_repositories(tree.driver) == []
    assert deleted_names(tree.driver) == set()


def test_mark_deleted_hides_the_repository_and_keeps_its_files(tree: Tree) -> None:
    image = tree.image("team/app", "1.0")
    tree.image("team/other", "1.0")

    mark_deleted(tree.driver, "team/app")

    assert is_deleted(tree.driver, "team/app") and not is_deleted(tree.driver, "team/other")
    assert list_repositories(tree.driver) == ["team/other"]
    assert list_repositories(tree.driver, include_deleted=True) == ["team/app", "team/other"]
    assert tree.has_revision("team/app", image.manifest)


def test_parent_and_nested_repository_can_both_be_deleted(tree: Tree) -> None:
    tree.image("a", "1.0")
    tree.image("a/b", "1.0")

    mark_deleted(tree.driver, "a/b")
    mark_deleted(tree.driver, "a")

    assert deleted_names(tree.driver) == {"a", "a/b"}


def test_deleting_an_unknown_or_deleted_repository_is_name_unknown(tree: Tree) -> None:
    tree.image("app", "1.0")
    mark_deleted(tree.driver, "app")

    with pytest.raises(NameUnknown):
        mark_deleted(tree.driver, "app")
    with pytest.raises(NameUnknown):
        mark_deleted(tree.driver, "never-pushed")


def test_deleting_an_invalid_name_is_name_invalid(tree: Tree) -> None:
    with pytest.raises(NameInvalid):
        mark_deleted(tree.driver, "Upper/Case")


def test_clear_deleted_serves_the_name_again(tree: Tree) -> None:
    tree.image("app", "1.0")
    mark_deleted(tree.driver, "app")

    clear_deleted(tree.driver, "app")
    clear_deleted(tree.driver, "app")  # idempotent

    assert not is_deleted(tree.driver, "app")
    assert not tree.exists(layout.deleted_marker("app"))
    assert not deleted_repositories(tree.driver).contains("app")


def test_cached_view_sees_this_process_delete_at_once(tree: Tree) -> None:
    tree.image("app", "1.0")
    cache = deleted_repositories(tree.driver)
    cache.refresh()

    mark_deleted(tree.driver, "app")

    assert cache.contains("app") and not cache.stale()


def test_cached_view_sees_another_process_delete_after_a_refresh(tree: Tree) -> None:
    tree.image("app", "1.0")
    other_process = Tree(tree.root)  # another driver on the same storage
    cache = DeletedRepositories(tree.driver, ttl=0.0)
    cache.refresh()

    mark_deleted(other_process.driver, "app")

    assert not cache.contains("app")  # still the old listing
    assert cache.stale()
    cache.refresh_if_stale()
    assert cache.contains("app")


def test_one_cached_view_per_driver(tree: Tree) -> None:
    assert deleted_repositories(tree.driver) is deleted_repositories(tree.driver)
    assert deleted_repositories(Tree(tree.root).driver) is not deleted_repositories(tree.driver)
