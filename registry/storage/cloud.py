"""What the object-store drivers share: key mapping, walks from flat listings, part writers."""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from registry.storage.chunked import PendingBytes
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    PathNotFoundError,
    StorageError,
    StorageUnavailableError,
)

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


class PartWriter(FileWriter):
    """A streamed write cut into parts of `part_size`; subclasses move the parts.

    Memory stays below one part plus the caller's last write, whatever the file's size.
    Writers that send parts in the background keep them in `in_flight`.
    """

    driver = "abstract"
    in_flight: InFlight | None = None

    def __init__(self, path: str, part_size: int, guard: Guard, *, size: int, pending: bytes):
        self.path = path
        self._part_size = part_size
        self._guard = guard
        self._pending = PendingBytes(pending)
        self._size = size
        self._state = "open"

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> int:
        self._require_open("write")
        self._pending.add(data)
        self._size += len(data)
        with self._guard():
            while len(self._pending) >= self._part_size:
                self._make_room()
                self._upload_part(self._pending.take(self._part_size))
        return len(data)

    def commit(self) -> None:
        self._require_open("commit")
        with self._guard():
            self._finish(self._pending.take_all())
        self._state = "committed"

    def cancel(self) -> None:
        if self._state == "cancelled":
            return
        self._state = "cancelled"
        with self._guard():
            self._discard()

    def close(self) -> None:
        if self._state != "open":
            return
        self._state = "closed"
        with self._guard():
            self._persist(self._pending.take_all())

    def rollback(self) -> None:
        if self._state in ("closed", "rolled back"):
            return
        self._require_open("rollback")
        self._state = "rolled back"
        self._pending.take_all()
        if self.in_flight is not None:
            self.in_flight.settle()  # parts still landing would undo what _revert drops
        with self._guard():
            self._revert()

    def _require_open(self, op: str) -> None:
        if self._state != "open":
            raise StorageError(
                f"{op} on a {self._state} writer", driver=self.driver, path=self.path
            )

    def _make_room(self) -> None:
        """Wait until another part may be sent (writers that send parts in the background)."""

    @abc.abstractmethod
    def _upload_part(self, data: bytes) -> None:
        """Send one full part."""

    @abc.abstractmethod
    def _finish(self, tail: bytes) -> None:
        """Make everything written, plus `tail`, the file's content."""

    @abc.abstractmethod
    def _persist(self, tail: bytes) -> None:
        """Keep what was written, plus `tail`, so that writer(path, append=True) resumes it."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Drop the write and the file."""

    @abc.abstractmethod
    def _revert(self) -> None:
        """Drop what this writer sent (nothing is in flight): the file is as it was found, or
        empty for a new writer."""


class InFlight:
    """Calls run on a shared pool, at most `limit` of them unfinished for one writer.

    A writer keeps streaming while its previous parts are still on the wire; a failed call
    raises from the submit or drain that follows it, and sets `failed` for good (later parts
    may have landed while an earlier one did not).
    """

    def __init__(self, pool: ThreadPoolExecutor, limit: int) -> None:
        self._pool = pool
        self._limit = limit
        self._pending: deque[Future[object]] = deque()
        self.failed = False

    def make_room(self) -> None:
        """Wait until fewer than `limit` calls are unfinished."""
        while len(self._pending) >= self._limit:
            error = self._pending.popleft().exception()
            if error is not None:
                self.failed = True
                raise error

    def require_intact(self, part: str, path: str) -> None:
        """Refuse to commit once a call failed: a later part may have landed without it."""
        if self.failed:
            message = f"a {part} of {path} failed; nothing was kept"
            raise StorageUnavailableError(message, path=path)

    def submit(self, call: Callable[[], object]) -> None:
        self.make_room()
        self._pending.append(self._pool.submit(call))

    def settle(self) -> None:
        """Wait for every call, failed or not, and raise nothing (a failure sets `failed`).
        Each call has the backend's timeouts, so this ends."""
        with suppress(Exception):  # the caller drops these parts either way
            self.drain()

    def drain(self) -> None:
        """Wait for every call; raise the first failure once all have ended."""
        failure: BaseException | None = None
        while self._pending:
            error = self._pending.popleft().exception()
            failure = failure or error
        if failure is not None:
            self.failed = True
            raise failure
