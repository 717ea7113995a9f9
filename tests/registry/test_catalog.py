"""The catalog walk on a real filesystem tree: order, `last`, early stop, what counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.content.catalog import list_repositories
from registry.content.repositories import mark_deleted
from registry.storage import StorageDriver
from registry.storage.base import CheckedDriver
from tests.support.registry_content import filesystem_driver

NAMES = ["a", "a/b", "a/b/c", "a-b", "a0", "b/x/y", "z"]  # Distribution's catalog order


class CountingDriver(CheckedDriver):
    """The real driver, counting its directory listings."""

    def __init__(self, inner: StorageDriver) -> None:
        super().__init__(inner)
        self.listings = 0

    def list(self, path: str) -> list[str]:
        self.listings += 1
        return super().list(path)


def add_repository(driver: StorageDriver, name: str) -> None:
    driver.put_content(layout.tag_current_link(name, "latest"), b"sha256:" + b"0" * 64)


@pytest.fixture()
def driver(tmp_path: Path) -> StorageDriver:
    driver = filesystem_driver(tmp_path / "one")
    for name in NAMES:
        add_repository(driver, name)
    driver.put_content(layout.layer_link("blobs/only", "sha256:" + "1" * 64), b"x")
    return driver


def test_lists_repositories_with_manifests_in_component_order(driver: StorageDriver) -> None:
    page = list_repositories(driver, 100, None)
    assert page.items == NAMES
    assert not page.more


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
def test_pages_joined_by_last_give_every_name_once(driver: StorageDriver, limit: int) -> None:
    seen: list[str] = []
    last = None
    while True:
        page = list_repositories(driver, limit, last)
        seen.extend(page.items)
        if not page.more:
            break
        last = page.items[-1]
    assert seen == NAMES


@pytest.mark.parametrize(
    ("last", "expected"),
    [("a/b", NAMES[2:]), ("a/a", NAMES[1:]), ("a/c", NAMES[3:]), ("b", NAMES[5:]), ("zz", [])],
)
def test_last_need_not_be_an_existing_name(
    driver: StorageDriver, last: str, expected: list[str]
) -> None:
    assert list_repositories(driver, 100, last).items == expected


def test_empty_storage_has_no_repositories(tmp_path: Path) -> None:
    page = list_repositories(filesystem_driver(tmp_path / "empty"), 10, None)
    assert page.items == []
    assert not page.more


def test_soft_deleted_repositories_are_left_out(driver: StorageDriver) -> None:
    mark_deleted(driver, "a/b")
    assert list_repositories(driver, 100, None).items == [n for n in NAMES if n != "a/b"]


def test_a_page_costs_listings_in_proportion_to_its_size_not_the_registry(tmp_path: Path) -> None:
    inner = filesystem_driver(tmp_path / "many")
    for i in range(2000):
        add_repository(inner, f"org{i // 100:02d}/repo{i % 100:02d}")
    driver = CountingDriver(inner)
    page = list_repositories(driver, 10, "org07/repo50")
    assert page.items == [f"org07/repo{i}" for i in range(51, 61)]
    # root, org07, repo50 (it could hold nested names after `last`), then one listing per
    # repository taken, plus one to see that more remain; never the other 1,900.
    assert driver.listings == 3 + 11
