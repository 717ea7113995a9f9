"""Repositories: enumeration over Distribution's layout, and soft delete.

A soft-deleted repository keeps its files until the next garbage collection; a marker at
`layout.deleted_marker(name)` says it is gone. Until GC has removed it, the name answers
404 NAME_UNKNOWN to everything, pushes included, so nothing pushed after the delete can be
stored into a repository that GC is about to remove. GC removes the marker last.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from registry import layout
from registry.content.names import validate_name
from registry.errors import NameUnknown
from registry.storage import PathNotFoundError, StorageDriver, StorageError

# The folders whose presence makes a directory a repository (Distribution's catalog only
# counts `_manifests`; GC also looks after repositories that only hold uploads or links).
MANIFESTS, LAYERS, UPLOADS = "_manifests", "_layers", "_uploads"
REPOSITORY_PARTS = (MANIFESTS, LAYERS, UPLOADS)
_MARKER_FILE = "_deleted"

log = logging.getLogger("hth.content")

MapFn = Callable[[Callable[[str], list[str]], Iterable[str]], Iterable[list[str]]]


@dataclass(frozen=True, slots=True)
class RepositoryDir:
    name: str
    parts: frozenset[str]  # which of REPOSITORY_PARTS exist

    @property
    def has_manifests(self) -> bool:
        return MANIFESTS in self.parts


def _children(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFoundError:
        return []


def iter_repository_dirs(
    driver: StorageDriver, map_fn: MapFn | None = None
) -> Iterator[RepositoryDir]:
    """Every directory under `repositories/` holding a repository part, breadth first.

    `map_fn` (e.g. a thread pool's map) lists one level's directories in parallel.
    """
    mapper: MapFn = map_fn or map
    prefix = layout.REPOSITORIES + "/"
    frontier = _children(driver, layout.REPOSITORIES)
    while frontier:
        next_level: list[str] = []
        for path, children in zip(
            frontier, mapper(lambda p: _children(driver, p), frontier), strict=True
        ):
            names = [child.rpartition("/")[2] for child in children]
            parts = frozenset(n for n in names if n in REPOSITORY_PARTS)
            if parts:
                yield RepositoryDir(path[len(prefix) :], parts)
            next_level.extend(
                c for c, n in zip(children, names, strict=True) if not n.startswith("_")
            )
        frontier = next_level


def list_repositories(driver: StorageDriver, include_deleted: bool = False) -> list[str]:
    """Names of the repositories (those with manifests, as Distribution's catalog), sorted."""
    deleted = set() if include_deleted else deleted_names(driver)
    names = (r.name for r in iter_repository_dirs(driver) if r.has_manifests)
    return sorted(n for n in names if n not in deleted)


def repository_exists(driver: StorageDriver, name: str) -> bool:
    return bool(_children(driver, layout.manifests_root(name)))


def is_deleted(driver: StorageDriver, name: str) -> bool:
    """Whether `name` is soft-deleted (one stat; see DeletedRepositories for a cached view)."""
    try:
        driver.stat(layout.deleted_marker(name))
    except PathNotFoundError:
        return False
    return True


def deleted_names(driver: StorageDriver) -> set[str]:
    """Every soft-deleted repository name (one walk of the markers)."""
    root = f"{layout.HTH_ROOT}/deleted"
    suffix = "/" + _MARKER_FILE
    try:
        entries = list(driver.walk(root))
    except PathNotFoundError:
        return set()
    return {
        e.path[len(root) + 1 : -len(suffix)]
        for e in entries
        if not e.is_dir and e.path.endswith(suffix)
    }


def mark_deleted(driver: StorageDriver, name: str) -> None:
    """Soft-delete repository `name`: it stops being served; the next GC frees its storage.

    Raises NAME_UNKNOWN when there is no such repository or it is already deleted.
    """
    validate_name(name)
    if is_deleted(driver, name) or not repository_exists(driver, name):
        raise NameUnknown(f"repository {name} not found", detail={"name": name})
    marker = {"name": name, "deleted_at": datetime.now(UTC).isoformat(timespec="seconds")}
    driver.put_content(layout.deleted_marker(name), json.dumps(marker).encode())
    deleted_repositories(driver).add(name)


def clear_deleted(driver: StorageDriver, name: str) -> None:
    """Remove the marker (GC calls this once the repository's files are gone)."""
    try:
        driver.delete(layout.deleted_marker(name))
    except PathNotFoundError:
        pass
    deleted_repositories(driver).discard(name)


class DeletedRepositories:
    """The soft-deleted names of one storage, re-read at most every `ttl` seconds.

    Serving checks this on every /v2/ request: one listing per `ttl` instead of a stat per
    request. This process's own deletes are seen at once. Writes see another instance's delete
    within `ttl` (they refresh a stale view before answering); reads may go on with a view up to
    `read_max_age` old while `refresh_in_background` re-reads it, so that a pull does not wait
    for a listing of the storage.
    """

    def __init__(self, driver: StorageDriver, ttl: float = 1.0, read_max_age: float = 5.0) -> None:
        self._driver = driver
        self._ttl = ttl
        self._read_max_age = read_max_age
        self._names: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self._refreshing = False
        self._recent: dict[str, tuple[bool, float]] = {}  # name -> (deleted, when), ours

    def stale(self) -> bool:
        return self._age() >= self._ttl

    def too_old_to_read(self) -> bool:
        """Whether even a read must wait for a refresh."""
        return self._age() >= self._read_max_age

    def _age(self) -> float:
        return time.monotonic() - self._read_at

    def refresh(self) -> None:
        started = time.monotonic()
        names = set(deleted_names(self._driver))
        with self._lock:
            if started <= self._read_at:
                return  # a newer listing came in meanwhile
            # Our own deletes and GC's clears made while listing win over what the listing saw.
            self._recent = {name: e for name, e in self._recent.items() if e[1] >= started}
            for name, (deleted, _) in self._recent.items():
                (names.add if deleted else names.discard)(name)
            self._names, self._read_at = frozenset(names), started

    def refresh_if_stale(self) -> None:
        if self.stale():
            self.refresh()

    def refresh_in_background(self) -> None:
        """Start a refresh in a thread of its own, unless one is already running."""
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh_quietly, name="deleted-repos", daemon=True).start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except StorageError as exc:  # the next request that must wait will raise it
            log.warning("cannot re-read the soft-deleted repositories: %s", exc)
        finally:
            with self._lock:
                self._refreshing = False

    def contains(self, name: str) -> bool:
        """In-memory answer; call refresh_if_stale() (it does I/O) first."""
        return name in self._names

    def add(self, name: str) -> None:
        self._note(name, deleted=True)

    def discard(self, name: str) -> None:
        self._note(name, deleted=False)

    def _note(self, name: str, deleted: bool) -> None:
        with self._lock:
            self._recent[name] = (deleted, time.monotonic())
            self._names = self._names | {name} if deleted else self._names - {name}


_caches: weakref.WeakKeyDictionary[StorageDriver, DeletedRepositories] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def deleted_repositories(driver: StorageDriver) -> DeletedRepositories:
    """The one DeletedRepositories view of `driver` in this process."""
    with _caches_lock:
        cache = _caches.get(driver)
        if cache is None:
            cache = _caches[driver] = DeletedRepositories(driver)
        return cache
