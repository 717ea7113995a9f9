"""The wrapper every driver runs behind: path checks, error tagging and timing, written once."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    StorageDriver,
    StorageError,
    StorageUnavailableError,
)

log = logging.getLogger("hth.storage")

_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_SLOW_SECONDS = 5.0
T = TypeVar("T")


def check_path(path: str, *, allow_root: bool = False, driver: str = "") -> str:
    if allow_root and path == "/":
        return path
    if not _PATH.match(path) or any(part in (".", "..") for part in path.split("/")):
        raise InvalidPathError(path, driver=driver)
    return path


class CheckedDriver(StorageDriver):
    """Wraps a raw driver: validates paths, tags errors with the driver name, logs slow calls."""

    def __init__(self, inner: StorageDriver) -> None:
        self.inner = inner
        self.name = inner.name
        self.read_concurrency = inner.read_concurrency

    def _call(self, op: str, path: str, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return fn()
        except StorageUnavailableError as exc:
            exc.driver = exc.driver or self.name
            # The one line an operator needs in an outage: which driver, doing what, where.
            log.warning("storage %s %s %s unavailable: %s", self.name, op, path, exc)
            raise
        except StorageError as exc:
            exc.driver = exc.driver or self.name
            raise
        except (TimeoutError, ConnectionError) as exc:
            log.warning("storage %s %s %s failed: %s", self.name, op, path, exc)
            message = f"{op} {path}: {exc}"
            raise StorageUnavailableError(message, driver=self.name, path=path) from exc
        finally:
            elapsed = time.monotonic() - started
            if elapsed > _SLOW_SECONDS:
                log.warning("storage %s %s %s took %.1fs", self.name, op, path, elapsed)

    def _checked(self, path: str, allow_root: bool = False) -> str:
        return check_path(path, allow_root=allow_root, driver=self.name)

    def get_content(self, path: str) -> bytes:
        return self._call("get_content", path, lambda: self.inner.get_content(self._checked(path)))

    def put_content(self, path: str, data: bytes) -> None:
        self._call("put_content", path, lambda: self.inner.put_content(self._checked(path), data))

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        if offset < 0:
            raise InvalidOffsetError(path, offset, driver=self.name)
        return self._call("reader", path, lambda: self.inner.reader(self._checked(path), offset))

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        if size is not None:
            if not append:
                raise StorageError("a size to resume at needs append=True", driver=self.name)
            if size < 0:
                raise InvalidOffsetError(path, size, driver=self.name)
        inner = self._call(
            "writer", path, lambda: self.inner.writer(self._checked(path), append, size=size)
        )
        return CheckedWriter(self, path, inner)

    def stat(self, path: str) -> FileInfo:
        return self._call("stat", path, lambda: self.inner.stat(self._checked(path, True)))

    def list(self, path: str) -> list[str]:
        return self._call("list", path, lambda: self.inner.list(self._checked(path, True)))

    def move(self, source: str, dest: str) -> None:
        self._checked(dest)
        self._call("move", source, lambda: self.inner.move(self._checked(source), dest))

    def delete(self, path: str) -> None:
        self._call("delete", path, lambda: self.inner.delete(self._checked(path)))

    def delete_dir(self, path: str, files: tuple[str, ...]) -> None:
        for name in files:
            check_path(f"/{name}", driver=self.name)
        self._call("delete", path, lambda: self.inner.delete_dir(self._checked(path), files))

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        return self._call("redirect_url", path, lambda: self.inner.redirect_url(path, method))

    def walk(self, path: str) -> Iterator[FileInfo]:
        self._checked(path, True)
        iterator = self.inner.walk(path)
        while True:
            entry = self._call("walk", path, lambda: next(iterator, None))
            if entry is None:
                return
            yield entry

    def close(self) -> None:
        self.inner.close()


class CheckedWriter(FileWriter):
    """A driver's writer whose failures are tagged and logged like every other call."""

    def __init__(self, driver: CheckedDriver, path: str, inner: FileWriter) -> None:
        self._driver, self._path, self.inner = driver, path, inner

    def write(self, data: bytes) -> int:
        return self._driver._call("write", self._path, lambda: self.inner.write(data))

    @property
    def size(self) -> int:
        return self.inner.size

    def commit(self) -> None:
        self._driver._call("commit", self._path, self.inner.commit)

    def cancel(self) -> None:
        self._driver._call("cancel", self._path, self.inner.cancel)

    def close(self) -> None:
        self._driver._call("close", self._path, self.inner.close)

    def rollback(self) -> None:
        self._driver._call("rollback", self._path, self.inner.rollback)
