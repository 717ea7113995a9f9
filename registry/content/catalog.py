"""The catalog: directories under `repositories/` holding `_manifests`, less soft-deleted ones.

Names are ordered component-wise, as Distribution's catalog orders them ("a/b" before "a-b").
The walk lists one directory per namespace level, never descends into `_layers`,
`_manifests` or `_uploads`, skips subtrees wholly before `last`, and stops once the page
is full, so a page costs about as many listings as it has entries.
"""

from __future__ import annotations

from registry import layout
from registry.content.pagination import Page
from registry.content.repositories import DeletedRepositories, deleted_repositories
from registry.storage import PathNotFoundError, StorageDriver

DEFAULT_PAGE = 100  # Distribution's default page size
MAX_PAGE = 1000  # Distribution's default catalog.maxentries


def list_repositories(driver: StorageDriver, limit: int, last: str | None) -> Page:
    """Up to `limit` repository names after `last`, in Distribution's catalog order."""
    if limit == 0:
        return Page([], False)
    deleted = deleted_repositories(driver)
    deleted.refresh_if_stale()
    walk = _Walk(driver, last.split("/") if last else None, limit + 1, deleted)
    walk.visit(layout.REPOSITORIES, [])
    found = walk.found
    return Page(found[:limit], len(found) > limit)


class _Walk:
    def __init__(
        self,
        driver: StorageDriver,
        after: list[str] | None,
        wanted: int,
        deleted: DeletedRepositories,
    ) -> None:
        self.driver = driver
        self.deleted = deleted
        self.after = after
        self.wanted = wanted
        self.found: list[str] = []

    def visit(self, path: str, components: list[str]) -> None:
        try:
            children = [child.rsplit("/", 1)[1] for child in self.driver.list(path)]
        except PathNotFoundError:
            return  # no repositories yet, or a stray file
        if components and "_manifests" in children and self._after_last(components):
            name = "/".join(components)
            if not self.deleted.contains(name):  # soft-deleted: no longer served
                self.found.append(name)
        for child in children:
            if len(self.found) >= self.wanted:
                return
            if child.startswith("_"):
                continue  # _layers, _manifests, _uploads: never a namespace
            below = [*components, child]
            if self._wholly_before_last(below):
                continue
            self.visit(f"{path}/{child}", below)

    def _after_last(self, components: list[str]) -> bool:
        return self.after is None or components > self.after

    def _wholly_before_last(self, components: list[str]) -> bool:
        """Every name under `components` sorts at or before `last`."""
        if self.after is None:
            return False
        is_prefix_of_last = self.after[: len(components)] == components
        return components < self.after and not is_prefix_of_last
