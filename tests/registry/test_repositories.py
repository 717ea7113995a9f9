"""Repository enumeration and soft delete, on a real filesystem driver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from registry import layout
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
from registry.errors import NameInvalid, NameUnknown
from registry.storage import FileInfo, StorageDriver, StorageUnavailableError
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


class _PausingDriver:
    """The real driver, with its listing held at a gate: lets a test act while a refresh lists,
    or fail the listing as a backend that went away would."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        self.listing, self.go_on = threading.Event(), threading.Event()
        self.fail = False

    def walk(self, path: str) -> Iterator[FileInfo]:
        self.listing.set()
        assert self.go_on.wait(10)
        if self.fail:
            raise StorageUnavailableError("backend down", driver="test")
        return self.driver.walk(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)


def _wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_reads_may_use_a_young_stale_view_while_it_is_read_again_in_the_background(
    tree: Tree,
) -> None:
    tree.image("app", "1.0")
    cache = DeletedRepositories(tree.driver, ttl=0.0, read_max_age=60.0)
    cache.refresh()
    mark_deleted(Tree(tree.root).driver, "app")  # another instance

    assert cache.stale() and not cache.too_old_to_read()
    cache.refresh_in_background()

    assert _wait_for(lambda: cache.contains("app"))


def test_a_view_older_than_read_max_age_is_too_old_even_to_read(tree: Tree) -> None:
    cache = DeletedRepositories(tree.driver, ttl=0.0, read_max_age=0.0)
    assert cache.too_old_to_read()  # never read yet
    cache.refresh()
    assert cache.too_old_to_read()


def test_a_delete_made_here_while_a_listing_runs_is_kept(tree: Tree) -> None:
    tree.image("app", "1.0")
    pausing = _PausingDriver(tree.driver)
    cache = DeletedRepositories(cast(StorageDriver, pausing), ttl=0.0)
    refresh = threading.Thread(target=cache.refresh)
    refresh.start()
    assert pausing.listing.wait(10)

    mark_deleted(tree.driver, "app")  # the listing already looked: it will not see this
    cache.add("app")  # what mark_deleted does for the driver's own view
    pausing.go_on.set()
    refresh.join()

    assert cache.contains("app")


def test_one_background_refresh_at_a_time_and_a_failed_one_keeps_the_view(
    tree: Tree, caplog: pytest.LogCaptureFixture
) -> None:
    pausing = _PausingDriver(tree.driver)
    cache = DeletedRepositories(cast(StorageDriver, pausing), ttl=0.0)
    cache.add("kept")
    pausing.fail = True

    cache.refresh_in_background()
    assert pausing.listing.wait(10)
    pausing.listing.clear()
    cache.refresh_in_background()  # one is running: no second listing starts
    pausing.go_on.set()

    assert _wait_for(lambda: "cannot re-read the soft-deleted repositories" in caplog.text)
    assert not pausing.listing.is_set()
    assert cache.contains("kept") and cache.too_old_to_read()
