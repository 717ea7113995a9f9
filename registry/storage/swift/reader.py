"""Reading a Swift DLO (a blob written in segments) one segment after the other, as plain objects.

Through the manifest, Swift's DLO middleware serves the segments after the tenth at one a second
by default (`rate_limit_after_segment = 10`, `rate_limit_segments_per_sec = 1`), which caps a
big blob at about one 20 MiB segment a second. Each segment read directly has no such limit.
The segments are the objects whose names start with the manifest's prefix, in name order, as
the middleware itself lists them.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, BinaryIO

from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.driver import InvalidOffsetError
from registry.storage.swift.container import SwiftContainer
from registry.storage.swift.session import translated


def segments_reader(swift: SwiftContainer, path: str, prefix: str, offset: int) -> BinaryIO:
    """The DLO at `path`, whose segments start with `prefix`, read from `offset`."""
    segments = [(e["name"], int(e["bytes"])) for e in swift.entries(prefix) if int(e["bytes"])]
    size = sum(length for _, length in segments)
    if offset > size:
        raise InvalidOffsetError(path, offset)
    if offset == size:
        return empty_reader()
    index, start = 0, 0
    while offset >= start + segments[index][1]:  # skip the segments before `offset`
        start += segments[index][1]
        index += 1
    first = _open(swift, path, segments[index][0], offset - start)
    chunks = _chunks(swift, path, first, [name for name, _ in segments[index + 1 :]])
    return chunk_reader(chunks, chunks.close, lambda: translated(path))


def _open(swift: SwiftContainer, path: str, name: str, skip: int) -> Any:
    headers = {"Range": f"bytes={skip}-"} if skip else {}
    with translated(path):
        _, body = swift.conn().get_object(swift.container, name, READ_CHUNK, headers=headers)
    return body


def _chunks(
    swift: SwiftContainer, path: str, body: Any, rest: list[str]
) -> Generator[bytes, None, None]:
    try:
        yield from body
        for name in rest:
            body.close()
            body = _open(swift, path, name, 0)
            yield from body
    finally:
        body.close()
