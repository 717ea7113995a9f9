"""The GCS streamed writer: parts uploaded side by side, then composed; resumable anywhere.

Each full chunk becomes an object of its own under /hth/v1/upload-parts, two on the wire at a
time; commit() composes them, in order, into the file (GCS composes at most 32 sources per
call, so every 32 parts are folded into one while the stream goes on). This is gsutil's parallel
composite upload: unlike one resumable session, parts go out in parallel, and a session's
server never re-reads the object so far on every chunk (fake-gcs-server does).

close() without commit() stores a small marker object at the path: its content is the tail
not yet sent (less than one chunk) and its metadata the parts so far. writer(path,
append=True) reads the marker and carries on. Every part of a write lives under one token
folder, removed by commit, cancel, and deleting the marker.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from registry.storage.chunked import byte_ranges
from registry.storage.driver import InvalidOffsetError, StorageUnavailableError
from registry.storage.gcs.bucket import GCSBucket
from registry.storage.gcs.markers import MARKER_TYPE, PREVIOUS, Progress, parts_folder
from registry.storage.parts import InFlight, PartWriter

if TYPE_CHECKING:
    from google.cloud import storage


OCTET = "application/octet-stream"
COMPOSE_LIMIT = 32  # sources per compose call
PARTS_IN_FLIGHT = 2


def open_writer(gcs: GCSBucket, path: str, append: bool, size: int | None = None) -> GCSWriter:
    if not append:
        return _new_file(gcs, path)
    with gcs.errors(path):
        blob = gcs.bucket.get_blob(gcs.keys.key(path), **gcs.calls)
        if blob is None or blob.content_type != MARKER_TYPE:
            return _from_object(gcs, path, blob, size)
        tail = blob.download_as_bytes(**gcs.calls)
    progress = Progress.from_metadata(blob.metadata or {}, path)
    if size is None or size == progress.offset + len(tail):
        return GCSWriter(gcs, path, progress, tail)
    return _cut(gcs, path, progress, tail, size)


def _new_file(gcs: GCSBucket, path: str) -> GCSWriter:
    progress = Progress(token=uuid.uuid4().hex)
    return GCSWriter(gcs, path, progress, b"", own_token=True, new_file=True)


def _from_object(
    gcs: GCSBucket, path: str, blob: storage.Blob | None, size: int | None
) -> GCSWriter:
    """A committed object (or none) goes on in new parts: its first `size` bytes (all of it
    by default) are streamed into them, as a resume of a committed file always was."""
    stored = 0 if blob is None else blob.size or 0
    keep = stored if size is None else size
    if keep > stored:
        raise InvalidOffsetError(path, keep, driver="gcs")
    if blob is None or keep == 0:
        return _new_file(gcs, path)
    # The parts folder is named after the object's version: the parts a killed writer of this
    # object sent are found again, and go with the parts of the writer that resumes it.
    token = hashlib.sha256(f"{blob.name}#{blob.generation}".encode()).hexdigest()[:32]
    writer = GCSWriter(gcs, path, Progress(token=token), b"", own_token=True)
    for start, length in byte_ranges(0, keep, gcs.chunk_size):
        end = start + length - 1
        writer.write(blob.download_as_bytes(start=start, end=end, **gcs.calls))
    if keep == stored:
        return writer
    writer.close()  # the cut is stored now (a marker), so that a rollback keeps it
    return open_writer(gcs, path, True)


def _cut(gcs: GCSBucket, path: str, progress: Progress, tail: bytes, size: int) -> GCSWriter:
    """Resume a marker below its size: inside its tail (all of it, at 0), or where the close
    before the last one ended; its pieces cannot be cut. The shorter marker is stored now, so
    that a rollback keeps the cut."""
    if size == 0:
        progress, tail = Progress(progress.token, next=progress.next, resumed=True), b""
    elif progress.offset <= size < progress.offset + len(tail):
        tail = tail[: size - progress.offset]
    else:
        progress, tail = _previous(gcs, path, progress.token, size)
    writer = GCSWriter(gcs, path, progress, tail)
    writer.store_marker(tail)
    return writer


def _previous(gcs: GCSBucket, path: str, token: str, size: int) -> tuple[Progress, bytes]:
    """The marker of the close before the last one, when `size` is where it ended. Its pieces
    are all there: later writers send theirs under higher numbers and delete none."""
    with gcs.errors(path):
        kept = gcs.bucket.get_blob(gcs.keys.key(f"{parts_folder(token)}/{PREVIOUS}"), **gcs.calls)
        if kept is not None:
            progress = Progress.from_metadata(kept.metadata or {}, path)
            if progress.token == token and progress.offset <= size <= progress.offset + (
                kept.size or 0
            ):
                tail = kept.download_as_bytes(**gcs.calls)
                if progress.offset + len(tail) == size:
                    return progress, tail
    raise InvalidOffsetError(path, size, driver="gcs")


class GCSWriter(PartWriter):
    """`own_token`: the parts folder is this writer's alone (no marker names it yet);
    `new_file`: a rollback leaves an empty file, whatever the path held."""

    driver = "gcs"
    in_flight: InFlight

    def __init__(
        self,
        gcs: GCSBucket,
        path: str,
        progress: Progress,
        pending: bytes,
        *,
        own_token: bool = False,
        new_file: bool = False,
    ) -> None:
        guard = lambda: gcs.errors(path)  # noqa: E731
        size = progress.offset + len(pending)
        super().__init__(path, gcs.chunk_size, guard, size=size, pending=pending)
        self._gcs = gcs
        self._progress = progress
        self._own_token, self._new_file = own_token, new_file
        self._first_piece = progress.next  # pieces from here on are this writer's
        self._found_size = size
        self.in_flight = InFlight(gcs.uploads, PARTS_IN_FLIGHT)

    def _make_room(self) -> None:
        self.in_flight.make_room()

    def _upload_part(self, data: bytes) -> None:
        if len(self._progress.pieces) >= COMPOSE_LIMIT:
            self.in_flight.drain()
            self.in_flight.submit(self._fold())
        piece = self._progress.new_piece()
        self._progress.pieces.append(piece)
        self._progress.offset += len(data)
        self.in_flight.submit(lambda: self._put_piece(piece, data))

    def _fold(self) -> Callable[[], None]:
        """Replace the first COMPOSE_LIMIT pieces by one; returns the call that composes."""
        sources = self._progress.pieces[:COMPOSE_LIMIT]
        target = self._progress.new_piece()
        self._progress.pieces[:COMPOSE_LIMIT] = [target]
        keys = [self._piece_key(piece) for piece in sources]
        return lambda: self._compose(keys, self._piece_key(target))

    def _finish(self, tail: bytes) -> None:
        self.in_flight.require_intact("part", self.path)
        if not self._progress.pieces:  # everything fits in one request
            self._gcs.blob(self.path).upload_from_string(
                tail, content_type=OCTET, **self._gcs.calls
            )
            if self._progress.resumed:
                self._drop_parts()
            return
        if tail:
            self._upload_part(tail)
        self.in_flight.drain()
        while len(self._progress.pieces) > COMPOSE_LIMIT:
            self._fold()()
        keys = [self._piece_key(piece) for piece in self._progress.pieces]
        self._compose(keys, self._gcs.keys.key(self.path))
        self._drop_parts()

    def _persist(self, tail: bytes) -> None:
        if self.in_flight.failed:
            return  # the marker stays as this writer found it: resume from there
        if self._progress.resumed and self.size == self._found_size:
            return  # the marker it resumed says it all (and stays the close to go back to)
        self.in_flight.drain()
        if self._progress.resumed:
            self._keep_previous()
        self.store_marker(tail)

    def _keep_previous(self) -> None:
        """Copy the marker this writer resumed into its parts folder (server-side), so that
        a resume at the size it held can go back to it."""
        folder = parts_folder(self._progress.token)
        kept = self._gcs.bucket.blob(self._gcs.keys.key(f"{folder}/{PREVIOUS}"))
        with self._gcs.errors(self.path):
            token, _, _ = kept.rewrite(self._gcs.blob(self.path), **self._gcs.calls)
            while token is not None:
                token, _, _ = kept.rewrite(
                    self._gcs.blob(self.path), token=token, **self._gcs.calls
                )

    def store_marker(self, tail: bytes) -> None:
        """Write the marker: `tail` and the pieces so far (all of them landed)."""
        marker = self._gcs.blob(self.path)
        marker.metadata = self._progress.metadata()
        with self._gcs.errors(self.path):
            marker.upload_from_string(tail, content_type=MARKER_TYPE, **self._gcs.calls)

    def _discard(self) -> None:
        self.in_flight.settle()  # the parts are deleted below either way
        self._drop_parts()
        blob = self._gcs.blob(self.path)
        if blob.exists(**self._gcs.calls):
            blob.delete(**self._gcs.calls)

    def _revert(self) -> None:
        # The marker is not rewritten: a resume finds it as this writer did. Its pieces go.
        if self._own_token:
            self._drop_parts()
        else:
            mine = range(self._first_piece, self._progress.next)
            self._gcs.delete_keys([self._piece_key(piece) for piece in mine])
        if self._new_file:
            self._progress = Progress(self._progress.token, next=self._progress.next)
            self.store_marker(b"")

    def _piece_key(self, piece: int) -> str:
        return self._gcs.keys.key(f"{parts_folder(self._progress.token)}/{piece:06d}")

    def _put_piece(self, piece: int, data: bytes) -> None:
        """One simple media upload: a single request, no session."""
        gcs, key = self._gcs, self._piece_key(piece)
        url = f"{gcs.base_url}/upload/storage/v1/b/{gcs.settings.bucket}/o"
        params = {"uploadType": "media", "name": key}
        with gcs.errors(self.path):
            response = gcs.http.post(
                url, params=params, data=data, headers={"Content-Type": OCTET}, timeout=gcs.timeout
            )
            gcs.check(response, self.path)
            stored = int(response.json().get("size", -1))
        if stored != len(data):
            message = f"part {piece} stored as {stored} bytes, sent {len(data)}"
            raise StorageUnavailableError(message, driver="gcs", path=self.path)

    def _compose(self, keys: list[str], target: str) -> None:
        destination = self._gcs.bucket.blob(target)
        destination.content_type = OCTET
        sources = [self._gcs.bucket.blob(key) for key in keys]
        with self._gcs.errors(self.path):
            destination.compose(sources, **self._gcs.calls)
            if destination.content_type != OCTET:
                # fake-gcs-server keeps the type of the object it replaces (the marker);
                # GCS takes the one sent.
                destination.content_type = OCTET
                destination.patch(**self._gcs.calls)

    def _drop_parts(self) -> None:
        self._gcs.delete_quietly(parts_folder(self._progress.token))
