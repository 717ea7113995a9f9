"""Local filesystem driver: Distribution's layout under `rootdirectory`, atomic puts."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISDIR
from typing import BinaryIO

from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
)
from registry.storage.settings import DriverSettings, FilesystemSettings

_TEMP_PREFIX = ".tmp-"


def local_root(settings: DriverSettings) -> Path | None:
    """The local directory holding the storage when these are the filesystem driver's
    settings, else None. Backups and restores need it; decided without touching a backend."""
    if isinstance(settings, FilesystemSettings):
        return Path(settings.rootdirectory).resolve()
    return None


class FilesystemDriver(StorageDriver):
    name = "filesystem"
    read_concurrency = 2

    def __init__(self, settings: FilesystemSettings) -> None:
        self.root = Path(settings.rootdirectory).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def full_path(self, path: str) -> str:
        """The local path of a storage path (already validated by the wrapper)."""
        return str(self.root) + ("" if path == "/" else path)

    def get_content(self, path: str) -> bytes:
        try:
            with open(self.full_path(path), "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFoundError(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        target = self.full_path(path)
        with _os_errors("put_content", path):
            _make_parent(target, path)
            directory, base = os.path.split(target)
            # Written beside the target then renamed over it: readers see old or new, never half.
            temp = os.path.join(directory, f"{_TEMP_PREFIX}{base}.{uuid.uuid4().hex}")
            try:
                with open(temp, "wb") as handle:
                    handle.write(data)
                os.replace(temp, target)
            except BaseException:
                _unlink_quietly(temp)
                raise

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            handle = open(self.full_path(path), "rb")  # noqa: SIM115 - returned to the caller
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFoundError(path) from None
        size = os.fstat(handle.fileno()).st_size
        if offset > size:
            handle.close()
            raise InvalidOffsetError(path, offset)
        handle.seek(offset)
        return handle

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        target = self.full_path(path)
        with _os_errors("writer", path):
            _make_parent(target, path)
            return _FileWriter(target, path, append, size)

    def stat(self, path: str) -> FileInfo:
        with _os_errors("stat", path):
            try:
                st = os.stat(self.full_path(path))
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFoundError(path) from None
        is_dir = S_ISDIR(st.st_mode)
        return FileInfo(path, 0 if is_dir else st.st_size, _mtime(st.st_mtime), is_dir)

    def list(self, path: str) -> list[str]:
        with _os_errors("list", path):
            try:
                with os.scandir(self.full_path(path)) as entries:
                    names = sorted(e.name for e in entries if not e.name.startswith(_TEMP_PREFIX))
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFoundError(path) from None
        prefix = "" if path == "/" else path
        return [f"{prefix}/{name}" for name in names]

    def move(self, source: str, dest: str) -> None:
        src, dst = self.full_path(source), self.full_path(dest)
        if not os.path.isfile(src):
            raise PathNotFoundError(source)
        with _os_errors("move", source):
            _make_parent(dst, dest)
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                raise PathNotFoundError(source) from None

    def delete(self, path: str) -> None:
        target = self.full_path(path)
        with _os_errors("delete", path):
            try:
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFoundError(path) from None

    def delete_dir(self, path: str, files: tuple[str, ...]) -> None:
        # Unlinks and one rmdir instead of rmtree's stats, open and listing: GC deletes tens of
        # thousands of these. Anything unexpected (another entry, a file or nothing at `path`)
        # takes the full delete. A symlinked folder is not expected: the driver makes none.
        target = self.full_path(path)
        try:
            for name in files:
                with suppress(FileNotFoundError):
                    os.unlink(f"{target}/{name}")
            os.rmdir(target)
        except OSError:
            self.delete(path)

    def walk(self, path: str) -> Iterator[FileInfo]:
        top = self.full_path(path)
        if not os.path.isdir(top):
            raise PathNotFoundError(path)
        yield from self._walk(top, "" if path == "/" else path)

    def _walk(self, directory: str, prefix: str) -> Iterator[FileInfo]:
        with _os_errors("walk", prefix or "/"):
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except FileNotFoundError:
                return  # removed while walking
        for entry in sorted(entries, key=_key_order):
            if entry.name.startswith(_TEMP_PREFIX):
                continue
            child = f"{prefix}/{entry.name}"
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield FileInfo(child, 0 if is_dir else st.st_size, _mtime(st.st_mtime), is_dir)
            if is_dir:
                yield from self._walk(entry.path, child)


class _FileWriter(FileWriter):
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
        with _os_errors("write", self._path):
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
        with _os_errors("commit", self._path):
            self._require_in_place("commit", self._size)
        self._state = "committed"

    def cancel(self) -> None:
        in_place = self._state != "cancelled" and self._in_place()
        self._release("cancelled")
        if in_place:  # never delete a file that took the path after ours moved away
            _unlink_quietly(self._target)

    def close(self) -> None:
        self._release("closed" if self._state == "open" else self._state)

    def rollback(self) -> None:
        if self._state in ("closed", "rolled back"):
            return
        fd = self._require_open("rollback")
        try:
            with _os_errors("rollback", self._path):
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


@contextmanager
def _os_errors(op: str, path: str) -> Iterator[None]:
    """Report what the OS refused (a directory in the way, a full disk) as a storage error."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"{op} {path}: {exc.strerror or exc}", path=path) from exc


def _make_parent(target: str, path: str) -> None:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"a parent of {path} is a file", path=path) from None


def _key_order(entry: os.DirEntry[str]) -> str:
    # Object stores list keys in byte order, where "a/" sorts after "a.b": walk the same way.
    try:
        return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name
    except OSError:
        return entry.name


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
