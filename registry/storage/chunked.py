"""Streaming helpers for the object-store drivers: readers over chunk iterators, byte ranges."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, cast

# What the drivers ask their SDK for at a time. Streamed blob GETs read 2 MiB pieces
# (api/v2/streaming.py): a chunk of the same size is handed on without a copy.
READ_CHUNK = 2 * 1024 * 1024


def chunk_reader(
    chunks: Iterator[bytes],
    release: Callable[[], None],
    guard: Callable[[], AbstractContextManager[None]],
) -> BinaryIO:
    """A binary reader over `chunks`; closing it calls `release` once."""
    return cast(BinaryIO, ChunkReader(chunks, release, guard))


class ChunkReader(io.BufferedIOBase):
    """A binary reader over an iterator of byte chunks that hands whole chunks on when it can.

    read(n) returns a chunk itself when it has at most n bytes and nothing is left over from
    the previous one: no copy, which matters at cloud read rates. SDK errors met while
    fetching a chunk are mapped by `guard`; closing calls `release` once.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        release: Callable[[], None],
        guard: Callable[[], AbstractContextManager[None]],
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._release: Callable[[], None] | None = release
        self._guard = guard
        self._chunk = b""
        self._at = 0  # bytes of `_chunk` already handed out

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        with self._guard():
            chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._chunk, self._at = chunk, 0
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed reader")
        if size is None or size < 0:
            return self._read_all()
        pieces: list[bytes] = []
        while size > 0 and (self._at < len(self._chunk) or self._next()):
            if self._at == 0 and len(self._chunk) <= size:
                piece = self._chunk  # the whole chunk, as it came
            else:
                piece = self._chunk[self._at : self._at + size]
            self._at += len(piece)
            size -= len(piece)
            pieces.append(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def read1(self, size: int = -1) -> bytes:
        if self._at >= len(self._chunk) and not self._next():
            return b""
        if size < 0:
            size = len(self._chunk)
        return self.read(min(size, len(self._chunk) - self._at))

    def _read_all(self) -> bytes:
        pieces = [self._chunk[self._at :]]
        self._at = len(self._chunk)
        while self._next():
            pieces.append(self._chunk)
            self._at = len(self._chunk)
        return b"".join(pieces)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
        super().close()


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
