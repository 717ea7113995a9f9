"""Streaming helpers for the object-store drivers: readers over chunk iterators, byte ranges."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

READ_BUFFER = 1024 * 1024


class _ChunkStream(io.RawIOBase):
    """A raw stream over an iterator of byte chunks; SDK errors are mapped by `guard`."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        release: Callable[[], None],
        guard: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._chunks = chunks
        self._release: Callable[[], None] | None = release
        self._guard = guard
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._left:
            with self._guard():
                chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        count = min(len(buffer), len(self._left))
        buffer[:count] = self._left[:count]
        self._left = self._left[count:]
        return count

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
        super().close()


def chunk_reader(
    chunks: Iterator[bytes],
    release: Callable[[], None],
    guard: Callable[[], AbstractContextManager[None]],
) -> BinaryIO:
    """A buffered binary reader over `chunks`; closing it calls `release` once."""
    return io.BufferedReader(_ChunkStream(chunks, release, guard), READ_BUFFER)


def empty_reader() -> BinaryIO:
    return io.BytesIO(b"")


def byte_ranges(start: int, end: int, step: int) -> Iterator[tuple[int, int]]:
    """(offset, length) pieces covering [start, end) in steps of `step`."""
    for offset in range(start, end, step):
        yield offset, min(step, end - offset)


class PendingBytes:
    """The bytes a writer holds before they fill a part or block (never more than one part)."""

    def __init__(self, initial: bytes = b"") -> None:
        self._data = bytearray(initial)

    def __len__(self) -> int:
        return len(self._data)

    def add(self, data: bytes) -> None:
        self._data += data

    def take(self, count: int) -> bytes:
        with memoryview(self._data) as view:  # one copy, not a slice then a copy of it
            piece = bytes(view[:count])
        del self._data[:count]
        return piece

    def take_all(self) -> bytes:
        return self.take(len(self._data))
