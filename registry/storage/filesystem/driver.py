"""Local filesystem driver: Distribution's layout under `rootdirectory`, atomic puts."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISDIR
from typing import BinaryIO

from registry.config.drivers import DriverSettings, FilesystemSettings
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageDriver,
)
from registry.storage.filesystem.files import make_parent, os_errors, unlink_quietly
from registry.storage.filesystem.writer import FilesystemWriter

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
        with os_errors("put_content", path):
            make_parent(target, path)
            directory, base = os.path.split(target)
            # Written beside the target then renamed over it: readers see old or new, never half.
            temp = os.path.join(directory, f"{_TEMP_PREFIX}{base}.{uuid.uuid4().hex}")
            try:
                with open(temp, "wb") as handle:
                    handle.write(data)
                os.replace(temp, target)
            except BaseException:
                unlink_quietly(temp)
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
        with os_errors("writer", path):
            make_parent(target, path)
            return FilesystemWriter(target, path, append, size)

    def stat(self, path: str) -> FileInfo:
        with os_errors("stat", path):
            try:
                st = os.stat(self.full_path(path))
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFoundError(path) from None
        is_dir = S_ISDIR(st.st_mode)
        return FileInfo(path, 0 if is_dir else st.st_size, _mtime(st.st_mtime), is_dir)

    def list(self, path: str) -> list[str]:
        with os_errors("list", path):
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
        with os_errors("move", source):
            make_parent(dst, dest)
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                raise PathNotFoundError(source) from None

    def delete(self, path: str) -> None:
        target = self.full_path(path)
        with os_errors("delete", path):
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
        with os_errors("walk", prefix or "/"):
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


def _key_order(entry: os.DirEntry[str]) -> str:
    # Object stores list keys in byte order, where "a/" sorts after "a.b": walk the same way.
    try:
        return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name
    except OSError:
        return entry.name


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
