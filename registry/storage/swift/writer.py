"""The Swift streamed writer: a file is a DLO manifest over segments of `chunksize`, as in
Distribution's swift driver; a resumed writer adds segments after the ones already there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from registry.storage.driver import InvalidOffsetError, PathNotFoundError, StorageUnavailableError
from registry.storage.parts import InFlight, PartWriter
from registry.storage.swift.container import MANIFEST, SwiftContainer

# Segments one writer may have on the wire at once: the stream goes on while they are sent.
SEGMENTS_IN_FLIGHT = 2


def open_writer(
    swift: SwiftContainer, path: str, append: bool, size: int | None = None
) -> SwiftWriter:
    prefix = swift.new_segments_prefix(path)
    if not append or size == 0:
        return SwiftWriter(swift, path, prefix, size=0, next_number=1, owned=1, new_file=True)
    try:
        headers = swift.head(path)
    except PathNotFoundError:
        if size:
            raise InvalidOffsetError(path, size) from None
        headers = {}
    manifest = headers.get(MANIFEST)
    if manifest:  # resume: the next segments go after the committed ones
        prefix = manifest.split("/", 1)[1]
        existing = swift.segments(prefix)
        if size is not None:
            existing = _cut(swift, path, existing, size)
        stored = sum(int(s["bytes"]) for s in existing)
        last = int(existing[-1]["name"].rsplit("/", 1)[1]) if existing else 0
        number = last + 1
        return SwiftWriter(
            swift, path, prefix, size=stored, next_number=number, owned=number, in_place=True
        )
    stored = int(headers.get("content-length", 0))
    if size is not None and size != stored:  # a plain object is no segment to cut
        raise InvalidOffsetError(path, size)
    if stored:  # a plain object becomes the first segment, copied server-side
        swift.copy(swift.object_name(path), swift.segment_name(prefix, 1))
    return SwiftWriter(swift, path, prefix, size=stored, next_number=2 if stored else 1, owned=1)


def _cut(
    swift: SwiftContainer, path: str, segments: list[dict[str, Any]], size: int
) -> list[dict[str, Any]]:
    """The segments holding the first `size` bytes; those after them (a killed writer's) are
    deleted, since the manifest serves every segment under its prefix. Every close ends a
    segment, so a size that ends none is refused before anything is deleted."""
    total = 0
    for count, segment in enumerate(segments):
        if total == size:
            swift.delete_names([s["name"] for s in segments[count:]])
            return segments[:count]
        total += int(segment["bytes"])
    if total != size:
        raise InvalidOffsetError(path, size)
    return segments


class SwiftWriter(PartWriter):
    """Each full chunk becomes the next segment; commit (or close) writes the DLO manifest."""

    driver = "swift"
    in_flight: InFlight

    def __init__(
        self,
        swift: SwiftContainer,
        path: str,
        prefix: str,
        *,
        size: int,
        next_number: int,
        owned: int,
        in_place: bool = False,
        new_file: bool = False,
    ) -> None:
        # Every Swift call maps its own errors: the writer needs no extra guard.
        super().__init__(path, swift.chunksize, nullcontext, size=size, pending=b"")
        self._swift, self._prefix = swift, prefix
        self._next = next_number
        self._owned = owned  # the first segment number that this writer created
        # Resumed from the manifest at `path`, which already lists every segment under `prefix`.
        self._manifest_in_place = in_place
        self._new_file = new_file  # a rollback leaves an empty file, whatever the path held
        self.in_flight = InFlight(swift.uploads, SEGMENTS_IN_FLIGHT)

    def _make_room(self) -> None:
        self._settle(self.in_flight.make_room)  # before the next segment is cut off the stream

    def _upload_part(self, data: bytes) -> None:
        self._settle(self.in_flight.make_room)
        name = self._swift.segment_name(self._prefix, self._next)
        self.in_flight.submit(lambda: self._swift.put_object(name, data))
        self._next += 1

    def _settle(self, wait: Callable[[], None]) -> None:
        """Run `wait`; if a segment failed, drop every segment this writer sent, so that the
        DLO never shows a later segment without the one before it (it lists what is there)."""
        try:
            wait()
        except Exception:
            self.in_flight.settle()
            self._swift.delete_segments(self._prefix, first=self._owned)
            raise

    def _finish(self, tail: bytes) -> None:
        self.in_flight.require_intact("segment", self.path)
        if tail:
            self._upload_part(tail)
        self._settle(self.in_flight.drain)
        if self._next == 1:  # nothing at all: a plain empty object needs no manifest
            self._swift.put_content(self.path, b"")
            return
        if self._manifest_in_place:  # each chunk of an upload: no manifest to write
            self._wait_for_segments()
            return
        old_prefix = self._swift.manifest_prefix(self.path)
        self._swift.put_manifest(self.path, self._prefix)
        self._wait_for_segments()
        if old_prefix and old_prefix != self._prefix:
            self._swift.delete_segments(old_prefix)

    def _persist(self, tail: bytes) -> None:
        if self.in_flight.failed:
            return  # the file is as this writer found it
        self._finish(tail)  # a DLO's content is its segments: keeping them is committing

    def _revert(self) -> None:
        # The manifest serves whatever segments are under its prefix: this writer's go.
        self._swift.delete_segments(self._prefix, first=self._owned)
        if self._new_file:
            self._swift.put_content(self.path, b"")

    def _discard(self) -> None:
        self.in_flight.settle()  # the segments go anyway
        self._swift.delete_segments(self._prefix, first=self._owned)
        try:
            self._swift.delete(self.path)
        except PathNotFoundError:
            pass

    def _wait_for_segments(self) -> None:
        deadline = time.monotonic() + self._swift.consistency_wait
        delay = 0.05
        while self._swift.stat(self.path).size != self._size:
            if time.monotonic() > deadline:
                raise StorageUnavailableError(f"segments of {self.path} did not show up")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
