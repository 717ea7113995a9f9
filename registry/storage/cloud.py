"""What the object-store drivers share: timeouts, key mapping, the driver base that lists and
walks a flat key space (ObjectStore); their part writers are in parts.py."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from registry.storage.driver import FileInfo, PathNotFoundError, StorageDriver

# Every backend call gets these; a dead or frozen backend must fail, never hang.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0  # the longest silence within one response, not the whole transfer
RETRY_ATTEMPTS = 3
RETRY_DEADLINE = 8.0  # for SDKs that retry until a deadline rather than a count
# Object stores have no directories: a synthesised one gets this modification time.
DIRECTORY_TIME = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")
Guard = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True, slots=True)
class KeySpace:
    """Maps storage paths ("/a/b") to object keys under an optional root prefix and back."""

    root: str = ""

    @classmethod
    def under(cls, rootdirectory: str) -> KeySpace:
        return cls(rootdirectory.strip("/"))

    def key(self, path: str) -> str:
        if path == "/":
            return self.root
        return f"{self.root}{path}" if self.root else path[1:]

    def prefix(self, path: str) -> str:
        """The key prefix of everything below the directory `path`."""
        key = self.key(path)
        return f"{key}/" if key else ""

    def path(self, key: str) -> str:
        relative = key[len(self.root) :] if self.root else f"/{key}"
        return relative.rstrip("/") or "/"

    def listed(self, directory_path: str, keys: Iterable[str]) -> list[str]:
        """The sorted paths of what a delimited listing of `directory_path` returned (keys and
        common prefixes); nothing there is PathNotFoundError unless it is the root."""
        paths = {self.path(key) for key in keys}
        if not paths and directory_path != "/":
            raise PathNotFoundError(directory_path)
        return sorted(paths)


def directory(path: str) -> FileInfo:
    return FileInfo(path, 0, DIRECTORY_TIME, True)


def walk_files(top: str, files: Iterable[FileInfo]) -> Iterator[FileInfo]:
    """Insert the directories implied by `files` (listed in key order below `top`).

    Key order keeps each directory's subtree contiguous, so the result is depth first with
    siblings in the byte order of their keys, a directory sorting as "name/".
    """
    base = 0 if top == "/" else len(top)
    opened: list[str] = []
    for info in files:
        parts = info.path[base + 1 :].split("/")[:-1]
        common = 0
        while common < min(len(opened), len(parts)) and opened[common] == parts[common]:
            common += 1
        del opened[common:]
        for depth in range(common, len(parts)):
            opened.append(parts[depth])
            yield directory(info.path[:base] + "/" + "/".join(opened))
        yield info


def guarded(items: Iterator[T], guard: Guard) -> Iterator[T]:
    """`items` with each step run under `guard`, so SDK errors met while paging are mapped."""
    while True:
        with guard():
            item = next(items, None)
        if item is None:
            return
        yield item


def nonempty(files: Iterator[FileInfo], path: str, driver: str) -> Iterator[FileInfo]:
    """`files`, or PathNotFoundError when there are none below a directory other than root."""
    first = next(files, None)
    if first is None:
        if path != "/":
            raise PathNotFoundError(path, driver=driver)
        return
    yield first
    yield from files


def delete_in_batches(names: Iterable[str], size: int, delete: Callable[[list[str]], None]) -> int:
    """Delete `names` through `delete`, `size` at a time; returns how many there were."""
    count, batch = 0, []
    for name in names:
        batch.append(name)
        if len(batch) == size:
            delete(batch)
            count, batch = count + len(batch), []
    if batch:
        delete(batch)
    return count + len(batch)


def children(directory_path: str, names: Iterable[str]) -> list[str]:
    prefix = "" if directory_path == "/" else directory_path
    return sorted({f"{prefix}/{name}" for name in names})


class ObjectStore(StorageDriver):
    """A driver over a flat key space, where directories are implied by the keys below them:
    listing and walking written once, on the two listings each store makes."""

    keys: KeySpace

    @abc.abstractmethod
    def errors(self, path: str) -> AbstractContextManager[None]:
        """Translate the SDK's failures met on `path` into storage errors."""

    @abc.abstractmethod
    def _names_below(self, prefix: str) -> Iterator[str]:
        """The names one level below the key `prefix`, relative to it (a delimited listing);
        empty names (marker objects of other tools) are dropped by the caller."""

    @abc.abstractmethod
    def _files_below(self, path: str) -> Iterator[FileInfo]:
        """Every file below the directory `path`, in key order."""

    def list(self, path: str) -> list[str]:
        with self.errors(path):
            names = [name for name in self._names_below(self.keys.prefix(path)) if name]
        if not names and path != "/":
            raise PathNotFoundError(path, driver=self.name)
        return children(path, names)

    def walk(self, path: str) -> Iterator[FileInfo]:
        files = guarded(self._files_below(path), lambda: self.errors(path))
        yield from walk_files(path, nonempty(files, path, self.name))
