"""The OSS streamed writer: one multipart upload per file, kept open across writers and processes.

close() without commit() leaves the upload in progress with every part at least OSS's minimum
(100 KiB); a shorter tail is kept in a small marker object at the file's own key, tagged with the
upload's id in its user metadata. writer(path, append=True) reads the marker, lists the upload's
parts and goes on: nothing already written is copied or read back, however big the file is.
"""

from __future__ import annotations

from contextlib import nullcontext

import oss2
from oss2.models import PartInfo

from registry.storage.driver import InvalidOffsetError, PathNotFoundError
from registry.storage.oss.bucket import MIN_PART_SIZE, OSSBucket, check_crc, translated
from registry.storage.oss.upload import (
    PARTS_META,
    PREVIOUS_META,
    UPLOAD_META,
    MultipartUpload,
    Point,
)
from registry.storage.parts import PartWriter


def open_writer(oss: OSSBucket, path: str, append: bool, size: int | None = None) -> OSSWriter:
    if not append or size == 0:
        _abort_uploads_of(oss, path)
        return OSSWriter(oss, path, changed=True, new_file=True)
    try:
        with translated(path):
            found = oss.bucket.get_object(oss.key(path))
    except PathNotFoundError:
        if size:
            raise InvalidOffsetError(path, size) from None
        return OSSWriter(oss, path, changed=True)
    try:
        headers, stored = found.headers, found.content_length
        upload_id = headers.get(UPLOAD_META)
        with translated(path):
            content = found.read() if upload_id or stored < MIN_PART_SIZE else b""
        if content:
            check_crc(found, path)
    finally:
        found.close()  # a big committed object is not read: its connection is dropped
    if not upload_id:
        return _from_object(oss, path, stored, content, size)
    # A marker: the upload holds everything but its tail.
    count = headers.get(PARTS_META)
    upload = MultipartUpload.resume(oss, path, upload_id, None if count is None else int(count))
    if count is None:
        upload.keep_tail(content)  # an older marker: from now on it counts the parts
    parts, _, kept = (headers.get(PREVIOUS_META) or "0,0").partition(",")
    previous = (int(parts), content[: int(kept)])
    return _from_marker(oss, path, upload, content[int(kept) :], previous, size)


def _from_marker(
    oss: OSSBucket,
    path: str,
    upload: MultipartUpload,
    tail: bytes,
    previous: Point,
    size: int | None,
) -> OSSWriter:
    """Go on after the marker's parts and tail, or after the first `size` bytes of them: its
    tail may be cut anywhere, its parts where one ends or where the previous close ended."""
    if size is None or size == upload.size + len(tail):
        return OSSWriter(oss, path, upload=upload, pending=tail)
    if size > upload.size + len(tail):
        raise InvalidOffsetError(path, size)
    if size >= upload.size:
        tail = tail[: size - upload.size]
    elif size == _size_at(upload.parts, previous):
        upload.parts, tail = upload.parts[: previous[0]], previous[1]
    else:
        upload.parts, tail = _parts_up_to(upload.parts, size, path), b""
    upload.keep_tail(tail)  # the cut is stored now, so that a rollback keeps it
    return OSSWriter(oss, path, upload=upload, pending=tail)


def _size_at(parts: list[PartInfo], point: Point) -> int:
    count, tail = point
    return sum(part.size for part in parts[:count]) + len(tail) if count <= len(parts) else -1


def _from_object(
    oss: OSSBucket, path: str, stored: int, small: bytes, size: int | None
) -> OSSWriter:
    """Go on after a committed object (`small` holds it when it is under a part), or after its
    first `size` bytes: read back when under a part, else copied in server-side."""
    if size is None or size == stored:
        copied = 0 if stored < MIN_PART_SIZE else stored
        return OSSWriter(oss, path, pending=small, copied=copied)
    if size > stored:
        raise InvalidOffsetError(path, size)
    if size >= MIN_PART_SIZE:  # the cut is stored now (as a marker), so that a rollback keeps it
        upload = MultipartUpload.start(oss, path)
        upload.copy_from(path, size)
        upload.keep_tail(b"")
        return OSSWriter(oss, path, upload=upload)
    start = small[:size] or oss.read_range(path, 0, size)
    oss.put_content(path, start)
    return OSSWriter(oss, path, pending=start)


def _parts_up_to(parts: list[PartInfo], size: int, path: str) -> list[PartInfo]:
    """The first parts holding exactly `size` bytes."""
    total = 0
    for count, part in enumerate(parts):
        if total == size:
            return parts[:count]
        total += part.size
    raise InvalidOffsetError(path, size)


def _abort_uploads_of(oss: OSSBucket, path: str) -> None:
    """A fresh file: earlier uploads to its key, and their marker, must not be resumed later."""
    key = oss.key(path)
    with translated(path):
        stale = [u for u in oss2.MultipartUploadIterator(oss.bucket, prefix=key) if u.key == key]
        for upload in stale:
            oss.bucket.abort_multipart_upload(key, upload.upload_id)
        if stale:
            oss.bucket.delete_object(key)


class OSSWriter(PartWriter):
    """Full chunks go up as parts of one upload; commit completes it into the object.

    `changed` is whether the backend must be told anything at close: an appending writer that
    adds nothing leaves the file as it found it.
    """

    driver = "oss"

    def __init__(
        self,
        oss: OSSBucket,
        path: str,
        *,
        upload: MultipartUpload | None = None,
        pending: bytes = b"",
        copied: int = 0,
        changed: bool = False,
        new_file: bool = False,
    ) -> None:
        size = (upload.size if upload else 0) + copied + len(pending)
        # Every OSS call maps its own errors: the writer needs no extra guard.
        super().__init__(path, oss.chunksize, nullcontext, size=size, pending=pending)
        self._oss = oss
        self._upload = upload
        self._copied = copied  # bytes of a committed object still to copy in as the first parts
        self._changed = changed
        self._new_file = new_file  # a rollback leaves an empty file, whatever the path held
        self._own_upload = upload is None  # any upload it has when it ends, it started
        self._found: Point = (len(upload.parts) if upload else 0, pending)  # where it began

    def write(self, data: bytes) -> int:
        self._changed = self._changed or bool(data)
        return super().write(data)

    def _start(self) -> MultipartUpload:
        if self._upload is None:
            self._upload = MultipartUpload.start(self._oss, self.path)
            if self._copied:
                self._upload.copy_from(self.path, self._copied)
                self._copied = 0
                self._found = (len(self._upload.parts), b"")
        return self._upload

    def _upload_part(self, data: bytes) -> None:
        self._start().put(data)

    def _finish(self, tail: bytes) -> None:
        if self._upload is None and not self._changed:
            return  # the committed object, as it was
        if self._upload is None and not self._copied:
            self._oss.put_content(self.path, tail)  # it all fits one request
            return
        upload = self._start()
        if tail:
            upload.put(tail)
        upload.complete()

    def _persist(self, tail: bytes) -> None:
        if not self._changed:
            return
        if self._upload is None and not self._copied and len(tail) < MIN_PART_SIZE:
            self._oss.put_content(self.path, tail)  # a small file: read back on resume
            return
        upload = self._start()
        if len(tail) >= MIN_PART_SIZE:
            upload.put(tail)
            tail = b""
        upload.keep_tail(tail, previous=self._found)

    def _revert(self) -> None:
        # A marker that was there counts its parts: parts sent after them are no part of the
        # file, and the next writer's parts replace them.
        if self._upload is not None and self._own_upload:
            self._upload.abort()
        if self._new_file:
            self._oss.put_content(self.path, b"")

    def _discard(self) -> None:
        if self._upload is not None:
            self._upload.abort()
        try:
            self._oss.delete(self.path)  # the object or marker, and any other upload to it
        except PathNotFoundError:
            pass
