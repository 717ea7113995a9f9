"""The filesystem streamed writer: writes in place, checking before each that the path still
names the file it opened."""

from __future__ import annotations

import os

from registry.storage.driver import FileWriter, InvalidOffsetError, StorageError
from registry.storage.filesystem.files import os_errors, unlink_quietly


class FilesystemWriter(FileWriter):
    """Writes straight to the target (upload data lives under _uploads until it is moved).

    Every write first checks that the path still names the file this writer opened, at the
    size it left it: once the file has been moved away (an upload completed into its blob),
    replaced or changed by someone else, writes fail instead of landing in that file.
    """

    def __init__(self, target: str, path: str, append: bool, size: int | None) -> None:
        self._target, self._path = target, path
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        if not append:
            flags |= os.O_CREAT | os.O_TRUNC
        elif not size:  # resuming at a size > 0 needs the file: never create it
            flags |= os.O_CREAT
        try:
            fd = os.open(target, flags, 0o666)
        except FileNotFoundError:
            if flags & os.O_CREAT:
                raise
            raise InvalidOffsetError(path, size or 0) from None
        try:
            found = os.fstat(fd)
            self._start = found.st_size if size is None else _cut(fd, found, path, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self._identity = (found.st_dev, found.st_ino)
        self._size = self._start
        self._state = "open"

    def write(self, data: bytes) -> int:
        fd = self._require_open("write")
        with os_errors("write", self._path):
            self._require_in_place("write", self._size)
            try:
                _write_all(fd, data)
            except OSError:
                os.ftruncate(fd, self._size)  # a full disk: no half-written piece
                raise
            if not self._in_place():
                # Moved away while the bytes went out: take them back out of the moved file.
                os.ftruncate(fd, self._size)
                raise StorageError(f"{self._path} was moved away during a write", path=self._path)
        self._size += len(data)
        return len(data)

    @property
    def size(self) -> int:
        return self._size

    def commit(self) -> None:
        self._require_open("commit")
        with os_errors("commit", self._path):
            self._require_in_place("commit", self._size)
        self._state = "committed"

    def cancel(self) -> None:
        in_place = self._state != "cancelled" and self._in_place()
        self._release("cancelled")
        if in_place:  # never delete a file that took the path after ours moved away
            unlink_quietly(self._target)

    def close(self) -> None:
        self._release("closed" if self._state == "open" else self._state)

    def rollback(self) -> None:
        if self._state in ("closed", "rolled back"):
            return
        fd = self._require_open("rollback")
        try:
            with os_errors("rollback", self._path):
                self._require_in_place("rollback")  # whatever its size: cut back to ours
                os.ftruncate(fd, self._start)
        finally:
            self._release("rolled back")

    def _require_open(self, op: str) -> int:
        if self._state != "open" or self._fd is None:
            raise StorageError(f"{op} on a {self._state} writer: {self._path}", path=self._path)
        return self._fd

    def _in_place(self, size: int | None = None) -> bool:
        try:
            st = os.stat(self._target)
        except FileNotFoundError:
            return False
        same_size = size is None or st.st_size == size
        return (st.st_dev, st.st_ino) == self._identity and same_size

    def _require_in_place(self, op: str, size: int | None = None) -> None:
        if not self._in_place(size):
            message = f"{op}: {self._path} was moved, replaced or changed by another writer"
            raise StorageError(message, path=self._path)

    def _release(self, state: str) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self._state = state


def _cut(fd: int, found: os.stat_result, path: str, size: int) -> int:
    """Resume at `size`: bytes after it (a killed writer's) go; a shorter file cannot."""
    if found.st_size < size:
        raise InvalidOffsetError(path, size)
    if found.st_size > size:
        os.ftruncate(fd, size)
    return size


def _write_all(fd: int, data: bytes) -> None:
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
