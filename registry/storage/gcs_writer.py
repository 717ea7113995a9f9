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

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from registry.layout import UPLOAD_PARTS
from registry.storage import cloud
from registry.storage.chunked import byte_ranges
from registry.storage.driver import StorageError, StorageUnavailableError

if TYPE_CHECKING:
    from google.cloud import storage

    from registry.storage.gcs import GCSDriver

MARKER_TYPE = "application/vnd.hth.upload-session"
OCTET = "application/octet-stream"
TOKEN_KEY = "hth-upload-parts"
PIECES_KEY = "hth-upload-pieces"
OFFSET_KEY = "hth-upload-offset"
NEXT_KEY = "hth-upload-next"
COMPOSE_LIMIT = 32  # sources per compose call
PARTS_IN_FLIGHT = 2


def parts_folder(token: str) -> str:
    return f"{UPLOAD_PARTS}/{token}"  # ours, unseen by Distribution; never migrated


def parts_of(blob: storage.Blob) -> str | None:
    """The parts folder a marker object names, None for any other object."""
    if blob.content_type != MARKER_TYPE:
        return None
    token = (blob.metadata or {}).get(TOKEN_KEY)
    return parts_folder(token) if token else None


def open_writer(gcs: GCSDriver, path: str, append: bool) -> GCSWriter:
    fresh = GCSWriter(gcs, path, Progress(token=uuid.uuid4().hex), pending=b"")
    if not append:
        return fresh
    with gcs.errors(path):
        blob = gcs.bucket.get_blob(gcs.keys.key(path), **gcs.calls)
        if blob is None:
            return fresh
        if blob.content_type != MARKER_TYPE:
            for start, length in byte_ranges(0, blob.size or 0, gcs.chunk_size):
                end = start + length - 1
                fresh.write(blob.download_as_bytes(start=start, end=end, **gcs.calls))
            return fresh
        pending = blob.download_as_bytes(**gcs.calls)
    return GCSWriter(gcs, path, Progress.from_metadata(blob.metadata or {}, path), pending)


@dataclass
class Progress:
    """What a write has stored so far: its pieces (parts, or parts composed into one) in file
    order, the bytes in them, and the number the next piece gets."""

    token: str
    pieces: list[int] = field(default_factory=list)
    offset: int = 0
    next: int = 0
    resumed: bool = False  # from a marker: a failed writer may have left parts behind

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], path: str) -> Progress:
        token = metadata.get(TOKEN_KEY)
        if not token:
            message = "upload marker of an older version (no parts); start the upload again"
            raise StorageError(message, driver="gcs", path=path)
        pieces = [int(p) for p in metadata.get(PIECES_KEY, "").split(",") if p]
        offset, next_ = int(metadata.get(OFFSET_KEY, "0")), int(metadata.get(NEXT_KEY, "0"))
        return cls(token, pieces, offset, next_, resumed=True)

    def metadata(self) -> dict[str, str]:
        return {
            TOKEN_KEY: self.token,
            PIECES_KEY: ",".join(map(str, self.pieces)),
            OFFSET_KEY: str(self.offset),
            NEXT_KEY: str(self.next),
        }

    def new_piece(self) -> int:
        self.next += 1
        return self.next - 1


class GCSWriter(cloud.PartWriter):
    driver = "gcs"

    def __init__(self, gcs: GCSDriver, path: str, progress: Progress, pending: bytes) -> None:
        guard = lambda: gcs.errors(path)  # noqa: E731
        size = progress.offset + len(pending)
        super().__init__(path, gcs.chunk_size, guard, size=size, pending=pending)
        self._gcs = gcs
        self._progress = progress
        self._in_flight = cloud.InFlight(gcs.uploads, PARTS_IN_FLIGHT)

    def _make_room(self) -> None:
        self._in_flight.make_room()

    def _upload_part(self, data: bytes) -> None:
        if len(self._progress.pieces) >= COMPOSE_LIMIT:
            self._in_flight.drain()
            self._in_flight.submit(self._fold())
        piece = self._progress.new_piece()
        self._progress.pieces.append(piece)
        self._progress.offset += len(data)
        self._in_flight.submit(lambda: self._put_piece(piece, data))

    def _fold(self) -> Callable[[], None]:
        """Replace the first COMPOSE_LIMIT pieces by one; returns the call that composes."""
        sources = self._progress.pieces[:COMPOSE_LIMIT]
        target = self._progress.new_piece()
        self._progress.pieces[:COMPOSE_LIMIT] = [target]
        keys = [self._piece_key(piece) for piece in sources]
        return lambda: self._compose(keys, self._piece_key(target))

    def _finish(self, tail: bytes) -> None:
        self._in_flight.require_intact("part", self.path)
        if not self._progress.pieces:  # everything fits in one request
            self._gcs.blob(self.path).upload_from_string(
                tail, content_type=OCTET, **self._gcs.calls
            )
            if self._progress.resumed:
                self._drop_parts()
            return
        if tail:
            self._upload_part(tail)
        self._in_flight.drain()
        while len(self._progress.pieces) > COMPOSE_LIMIT:
            self._fold()()
        keys = [self._piece_key(piece) for piece in self._progress.pieces]
        self._compose(keys, self._gcs.keys.key(self.path))
        self._drop_parts()

    def _persist(self, tail: bytes) -> None:
        if self._in_flight.failed:
            return  # the marker stays as this writer found it: resume from there
        self._in_flight.drain()
        marker = self._gcs.blob(self.path)
        marker.metadata = self._progress.metadata()
        marker.upload_from_string(tail, content_type=MARKER_TYPE, **self._gcs.calls)

    def _discard(self) -> None:
        try:
            self._in_flight.drain()
        except Exception:
            pass  # the parts are deleted below either way
        self._drop_parts()
        blob = self._gcs.blob(self.path)
        if blob.exists(**self._gcs.calls):
            blob.delete(**self._gcs.calls)

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
