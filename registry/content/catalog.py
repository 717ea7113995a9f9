"""The catalog: directories under `repositories/` holding `_manifests`, less soft-deleted ones.

Names are ordered component-wise, as Distribution's catalog orders them ("a/b" before "a-b").
The walk lists one directory per namespace level, never descends into `_layers`,
`_manifests` or `_uploads`, skips subtrees wholly before `last`, and stops once the page
is full, so a page costs about as many listings as it has entries. A filter (a user's pull
rights) hides names, counts only what it shows, and prunes subtrees it can show nothing of.
"""

from __future__ import annotations

from typing import Protocol

from registry import layout
from registry.content.pagination import Page
from registry.content.repositories import DeletedRepositories, deleted_repositories
from registry.storage import PathNotFoundError, StorageDriver

DEFAULT_PAGE = 100  # Distribution's default page size
MAX_PAGE = 1000  # Distribution's default catalog.maxentries


class RepositoryFilter(Protocol):
    def shows(self, name: str) -> bool: ...

    def may_hold(self, components: list[str]) -> bool:
        """False only when no name at or under `components` is shown."""
        ...


def list_repositories(
    driver: StorageDriver, limit: int, last: str | None, shown: RepositoryFilter | None = None
) -> Page:
    """Up to `limit` repository names after `last` that `shown` shows (None: all), in
    Distribution's catalog order."""
    if limit == 0:
        return Page([], False)
    deleted = deleted_repositories(driver)
    deleted.refresh_if_stale()
    walk = _Walk(driver, last.split("/") if last else None, limit + 1, deleted, shown)
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
        shown: RepositoryFilter | None = None,
    ) -> None:
        self.driver = driver
        self.deleted = deleted
        self.shown = shown
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
            # Soft-deleted: no longer served; not shown: as if absent (its name never leaks).
            if not self.deleted.contains(name) and (self.shown is None or self.shown.shows(name)):
                self.found.append(name)
        for child in children:
            if len(self.found) >= self.wanted:
                return
            if child.startswith("_"):
                continue  # _layers, _manifests, _uploads: never a namespace
            below = [*components, child]
            if self._wholly_before_last(below):
                continue
            if self.shown is not None and not self.shown.may_hold(below):
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
