"""The GCS streamed writer: a resumable upload session per file, resumable from any process.

As in Distribution's gcs driver, close() without commit() stores a small marker object at
the path: its content is the tail not yet sent (less than one chunk) and its metadata the
session URL and offset. writer(path, append=True) reads the marker and carries on; the final
chunk of the session then replaces the marker with the whole file. Appending to a committed
object streams it, one chunk at a time, into a new session.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from registry.storage import cloud
from registry.storage.chunked import byte_ranges
from registry.storage.driver import StorageError

if TYPE_CHECKING:
    from registry.storage.gcs import GCSDriver

MARKER_TYPE = "application/vnd.hth.upload-session"
SESSION_KEY = "hth-upload-session"
OFFSET_KEY = "hth-upload-offset"
_PERSISTED = re.compile(r"bytes=0-(\d+)")
_SEND_ATTEMPTS = 5


def open_writer(gcs: GCSDriver, path: str, append: bool) -> GCSWriter:
    fresh = GCSWriter(gcs, path, session=None, offset=0, pending=b"")
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
        metadata = blob.metadata or {}
        pending = blob.download_as_bytes(**gcs.calls)
    session = metadata.get(SESSION_KEY) or None
    offset = int(metadata.get(OFFSET_KEY, "0"))
    return GCSWriter(gcs, path, session=session, offset=offset, pending=pending)


class GCSWriter(cloud.PartWriter):
    driver = "gcs"

    def __init__(
        self, gcs: GCSDriver, path: str, *, session: str | None, offset: int, pending: bytes
    ) -> None:
        guard = lambda: gcs.errors(path)  # noqa: E731
        super().__init__(path, gcs.chunk_size, guard, size=offset + len(pending), pending=pending)
        self._gcs = gcs
        self._session = session
        self._offset = offset

    def _upload_part(self, data: bytes) -> None:
        if self._session is None:
            self._session = self._start_session()
        self._send(data, total=None)

    def _finish(self, tail: bytes) -> None:
        if self._session is None:  # everything fits in one request
            self._gcs.blob(self.path).upload_from_string(
                tail, content_type="application/octet-stream", **self._gcs.calls
            )
            return
        self._send(tail, total=self._offset + len(tail))

    def _persist(self, tail: bytes) -> None:
        marker = self._gcs.blob(self.path)
        marker.metadata = {SESSION_KEY: self._session or "", OFFSET_KEY: str(self._offset)}
        marker.upload_from_string(tail, content_type=MARKER_TYPE, **self._gcs.calls)

    def _discard(self) -> None:
        if self._session is not None:
            # Answers 499 (or 501 on the emulator); an abandoned session expires anyway.
            self._gcs.http.delete(self._session, timeout=self._gcs.timeout).close()
        blob = self._gcs.blob(self.path)
        if blob.exists(**self._gcs.calls):
            blob.delete(**self._gcs.calls)

    def _start_session(self) -> str:
        gcs = self._gcs
        url = f"{gcs.base_url}/upload/storage/v1/b/{gcs.settings.bucket}/o?uploadType=resumable"
        body = {"name": gcs.keys.key(self.path), "contentType": "application/octet-stream"}
        response = gcs.http.post(url, json=body, timeout=gcs.timeout)
        gcs.check(response, self.path)
        session: str = response.headers["Location"]
        return session

    def _send(self, data: bytes, total: int | None) -> None:
        """PUT one chunk; the service may keep less than it was sent, so send the rest."""
        for _ in range(_SEND_ATTEMPTS):
            end = self._offset + len(data) - 1
            span = f"{self._offset}-{end}" if data else "*"
            headers = {"Content-Range": f"bytes {span}/{'*' if total is None else total}"}
            response = self._gcs.http.put(
                self._session or "", data=data, headers=headers, timeout=self._gcs.timeout
            )
            if response.status_code in (404, 410):
                raise StorageError("upload session expired", driver="gcs", path=self.path)
            if response.status_code == 308:
                kept = _PERSISTED.fullmatch(response.headers.get("Range", ""))
                persisted = int(kept.group(1)) + 1 if kept else self._offset
            else:
                self._gcs.check(response, self.path)
                persisted = end + 1
            data, self._offset = data[persisted - self._offset :], persisted
            if not data:
                return
        raise StorageError(
            "the upload session keeps refusing a chunk", driver="gcs", path=self.path
        )
