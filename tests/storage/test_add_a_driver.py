"""A seventh driver added as docs/architecture.md says ("How to add a driver"): a tiny
in-memory object store on cloud.ObjectStore, one row in the factory's table and its settings
model, then created by name and used behind the checking wrapper like any other."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import BinaryIO

import pytest

from registry.config import drivers as settings
from registry.storage import (
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    create_driver,
    driver_names,
    factory,
)
from registry.storage.base import CheckedDriver
from registry.storage.cloud import KeySpace, ObjectStore, directory
from registry.storage.driver import FileInfo, FileWriter
from registry.storage.parts import PartWriter

WRITTEN = datetime(2026, 1, 1, tzinfo=UTC)


class MemorySettings(settings.DriverSettings):
    rootdirectory: str = ""


class MemoryDriver(ObjectStore):
    """Objects in a dict: the two listings are all ObjectStore needs to list and walk."""

    name = "memory"

    def __init__(self, config: MemorySettings) -> None:
        self.keys = KeySpace.under(config.rootdirectory)
        self.objects: dict[str, bytes] = {}

    def errors(self, path: str) -> AbstractContextManager[None]:
        return nullcontext()

    def _names_below(self, prefix: str) -> Iterator[str]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield key[len(prefix) :].split("/")[0]

    def _files_below(self, path: str) -> Iterator[FileInfo]:
        prefix = self.keys.prefix(path)
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            yield FileInfo(self.keys.path(key), len(self.objects[key]), WRITTEN, False)

    def get_content(self, path: str) -> bytes:
        try:
            return self.objects[self.keys.key(path)]
        except KeyError:
            raise PathNotFoundError(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        self.objects[self.keys.key(path)] = data

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        data = self.get_content(path)
        if offset > len(data):
            raise InvalidOffsetError(path, offset)
        return io.BytesIO(data[offset:])

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        start = self.objects.get(self.keys.key(path), b"") if append else b""
        if size is not None and size > len(start):
            raise InvalidOffsetError(path, size)
        return MemoryWriter(self, path, start if size is None else start[:size])

    def stat(self, path: str) -> FileInfo:
        key = self.keys.key(path)
        if path != "/" and key in self.objects:
            return FileInfo(path, len(self.objects[key]), WRITTEN, False)
        if path != "/" and not any(k.startswith(self.keys.prefix(path)) for k in self.objects):
            raise PathNotFoundError(path)
        return directory(path)

    def move(self, source: str, dest: str) -> None:
        self.put_content(dest, self.get_content(source))
        del self.objects[self.keys.key(source)]

    def delete(self, path: str) -> None:
        key, prefix = self.keys.key(path), self.keys.prefix(path)
        doomed = [k for k in self.objects if k == key or k.startswith(prefix)]
        if not doomed:
            raise PathNotFoundError(path)
        for k in doomed:
            del self.objects[k]

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        return None


class MemoryWriter(PartWriter):
    """Parts of four bytes, kept in a list until the write ends: the part writer's states."""

    driver = "memory"

    def __init__(self, store: MemoryDriver, path: str, start: bytes) -> None:
        super().__init__(path, 4, nullcontext, size=len(start), pending=start)
        self._store, self._start = store, start
        self._parts: list[bytes] = []

    def _upload_part(self, data: bytes) -> None:
        self._parts.append(data)

    def _finish(self, tail: bytes) -> None:
        self._store.put_content(self.path, b"".join(self._parts) + tail)

    def _persist(self, tail: bytes) -> None:
        self._finish(tail)

    def _discard(self) -> None:
        self._store.objects.pop(self._store.keys.key(self.path), None)

    def _revert(self) -> None:
        self._store.put_content(self.path, self._start)


@pytest.fixture
def memory_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe's one line in the factory and its settings model, for this test only."""
    monkeypatch.setitem(factory.DRIVERS, "memory", f"{__name__}:MemoryDriver")
    monkeypatch.setitem(settings.SETTINGS_BY_DRIVER, "memory", MemorySettings)


@pytest.mark.usefixtures("memory_driver")
def test_a_driver_added_by_the_recipe_is_created_by_name_behind_the_checks() -> None:
    assert "memory" in driver_names()
    driver = create_driver("memory", {"rootdirectory": "/root"})
    assert isinstance(driver, CheckedDriver)
    assert isinstance(driver.inner, MemoryDriver)

    driver.put_content("/a/b/c", b"one")
    with driver.writer("/a/d") as writer:
        writer.write(b"twenty")  # closed without commit: a later writer resumes it
    with driver.writer("/a/d", append=True, size=3) as resumed:
        resumed.write(b"!")
        resumed.commit()
    assert driver.get_content("/a/d") == b"twe!"
    assert set(driver.inner.objects) == {"root/a/b/c", "root/a/d"}

    assert driver.list("/a") == ["/a/b", "/a/d"]
    walked = [(info.path, info.is_dir) for info in driver.walk("/")]
    assert walked == [("/a", True), ("/a/b", True), ("/a/b/c", False), ("/a/d", False)]
    assert driver.reader("/a/b/c", 1).read() == b"ne"
    with pytest.raises(InvalidPathError):
        driver.get_content("/a/../b")
    with pytest.raises(PathNotFoundError):
        driver.list("/missing")
    driver.delete("/a")
    assert driver.list("/") == []


def test_a_driver_not_in_the_table_is_refused_by_name() -> None:
    with pytest.raises(factory.UnknownDriverError, match="unknown storage driver 'memory'"):
        create_driver("memory", {})
