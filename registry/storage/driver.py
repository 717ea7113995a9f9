"""The storage driver interface (after Distribution's storagedriver.go) and its errors.

Paths are absolute, '/'-separated, made of components in [A-Za-z0-9._-]; "/" is the root.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO


class StorageError(Exception):
    """Any storage failure; `driver` names the driver that raised it."""

    def __init__(self, message: str, *, driver: str = "", path: str = "") -> None:
        super().__init__(message)
        self.driver = driver
        self.path = path

    def __str__(self) -> str:
        base = super().__str__()
        return f"{self.driver}: {base}" if self.driver else base


class PathNotFoundError(StorageError):
    def __init__(self, path: str, *, driver: str = "") -> None:
        super().__init__(f"path not found: {path}", driver=driver, path=path)


class InvalidPathError(StorageError):
    def __init__(self, path: str, *, driver: str = "") -> None:
        super().__init__(f"invalid path: {path!r}", driver=driver, path=path)


class InvalidOffsetError(StorageError):
    def __init__(self, path: str, offset: int, *, driver: str = "") -> None:
        super().__init__(f"invalid offset {offset} for {path}", driver=driver, path=path)
        self.offset = offset


class StorageUnavailableError(StorageError):
    """The backend is down, slow or refusing us: transient, worth a retry later."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    mod_time: datetime
    is_dir: bool


class FileWriter(abc.ABC):
    """A streamed write. Content becomes durable at commit(); cancel() discards the file.

    close() without commit() keeps what was written, so that writer(path, append=True), in
    this process or another, resumes after it; rollback() instead drops it. Until commit()
    what a reader sees at the path is unspecified (the bytes so far, nothing, or a part of
    them, depending on the driver). Calls on a committed or cancelled writer are StorageError;
    close() and rollback() of a writer already closed or rolled back do nothing.
    """

    @abc.abstractmethod
    def write(self, data: bytes) -> int: ...

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes in the file so far, including what an appending writer started from."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def cancel(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None:
        """End the write and drop everything this writer wrote: the file stays as the writer
        found it (an appending writer's earlier content; an empty file for a new writer), so that
        writer(path, append=True) resumes at the size it started from. For a write whose request
        failed half-way (a client body shorter or longer than it declared)."""

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StorageDriver(abc.ABC):
    """Synchronous storage operations; drivers do I/O only (checks live in the wrapper)."""

    name: str = "abstract"
    # Calls worth running at once when reading many small objects (GC's mark). Where each
    # call waits on the network, many; the filesystem driver reads from the page cache, CPU
    # work that more threads only fight over (the GIL), and says 2.
    read_concurrency: int = 8

    @abc.abstractmethod
    def get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def put_content(self, path: str, data: bytes) -> None:
        """Store `data` at `path` atomically: readers see the old or the new content."""

    @abc.abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        """A streamed write of `path`: a new empty file, or with `append` one that goes on
        after what is stored.

        With `append` and `size`, the file is first cut back to exactly `size` bytes, dropping
        whatever an earlier writer left after it without close() or commit() (a killed process's
        parts or bytes). `size` must be a length at which an earlier writer of the file ended
        with close() or commit(), or 0; a size the driver cannot cut at, or one beyond what is
        stored, is InvalidOffsetError and changes nothing.
        """

    @abc.abstractmethod
    def stat(self, path: str) -> FileInfo: ...

    @abc.abstractmethod
    def list(self, path: str) -> list[str]:
        """Full paths of the direct children of the directory `path`, sorted."""

    @abc.abstractmethod
    def move(self, source: str, dest: str) -> None:
        """Move a file, replacing `dest` if it exists."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a directory with everything below it."""

    def delete_dir(self, path: str, files: tuple[str, ...]) -> None:
        """delete(path) of a directory that normally holds just `files` (names), which lets a
        driver skip listing it: GC deletes blob and link folders this way."""
        self.delete(path)

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        """A URL the client may fetch directly, or None when the registry serves it."""
        return None

    @abc.abstractmethod
    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file and directory below `path`, depth first, in lexical order.

        Siblings come in the byte order of their object keys, a directory sorting as "name/"
        (so "a.b" and "a-c" come before "a"), which object stores give without re-sorting.
        """

    def close(self) -> None:  # noqa: B027 - most drivers hold nothing to release
        """Release connections and threads held by the driver."""
