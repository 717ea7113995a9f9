"""A multipart upload of one OSS object, as the streamed writer and the driver's large moves
make it: numbered parts, server-side part copies, the marker that keeps a tail, completion."""

from __future__ import annotations

import oss2
from oss2.models import PartInfo

from registry.storage.driver import PathNotFoundError, StorageError
from registry.storage.oss.bucket import MIN_PART_SIZE, OSSBucket, translated

# The marker's user metadata: which upload the bytes at the key are the tail of, and how many
# of its parts come before them (parts after those are a killed or rolled-back writer's).
UPLOAD_META = "x-oss-meta-hth-upload"
PARTS_META = "x-oss-meta-hth-parts"
# Where the previous close ended, "<parts>,<bytes>": after that many parts, and that many bytes
# of the marker, which holds that close's tail before its own. A resume can go back to it.
PREVIOUS_META = "x-oss-meta-hth-previous"
# A point a writer ended at: the upload's first parts, then a tail of bytes.
Point = tuple[int, bytes]


class MultipartUpload:
    """One multipart upload of `path`: numbered parts, server-side part copies, completion."""

    def __init__(self, oss: OSSBucket, path: str, upload_id: str, parts: list[PartInfo]) -> None:
        self._oss, self._path, self._key = oss, path, oss.key(path)
        self.upload_id = upload_id
        self.parts = parts

    @classmethod
    def start(cls, oss: OSSBucket, path: str) -> MultipartUpload:
        with translated(path):
            init = oss.bucket.init_multipart_upload(oss.key(path), headers=oss.write_headers)
        return cls(oss, path, init.upload_id, [])

    @classmethod
    def resume(
        cls, oss: OSSBucket, path: str, upload_id: str, count: int | None
    ) -> MultipartUpload:
        """The upload's first `count` parts (all, for a marker that does not count them)."""
        with translated(path):
            parts = list(oss2.PartIterator(oss.bucket, oss.key(path), upload_id))
        parts = parts if count is None else parts[:count]
        if [part.part_number for part in parts] != list(range(1, len(parts) + 1)) or (
            count is not None and len(parts) != count
        ):
            raise StorageError(f"the upload of {path} lacks parts its marker counts", path=path)
        return cls(oss, path, upload_id, parts)

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def _next_number(self) -> int:
        return self.parts[-1].part_number + 1 if self.parts else 1

    def put(self, data: bytes) -> None:
        number = self._next_number()
        with translated(self._path):
            result = self._oss.bucket.upload_part(self._key, self.upload_id, number, data)
        self.parts.append(PartInfo(number, result.etag, len(data), part_crc=result.crc))

    def copy_from(self, source: str, size: int) -> None:
        """Copy the object at `source` in as the next parts, none smaller than MIN_PART_SIZE."""
        starts = list(range(0, size, self._oss.copy_part_size))
        if len(starts) > 1 and size - starts[-1] < MIN_PART_SIZE:
            starts.pop()  # fold a too-small tail into the part before it
        for start, end in zip(starts, [*starts[1:], size], strict=True):
            number = self._next_number()
            with translated(source):
                result = self._oss.bucket.upload_part_copy(
                    self._oss.settings.bucket,
                    self._oss.key(source),
                    (start, end - 1),
                    self._key,
                    self.upload_id,
                    number,
                )
            self.parts.append(PartInfo(number, result.etag, end - start, part_crc=result.crc))

    def keep_tail(self, tail: bytes, previous: Point = (0, b"")) -> None:
        """Store the bytes after the last part as the marker object at the key, with where
        the previous close ended (unless at the start)."""
        headers = {
            **self._oss.write_headers,
            UPLOAD_META: self.upload_id,
            PARTS_META: str(len(self.parts)),
        }
        if previous != (0, b""):
            headers[PREVIOUS_META] = f"{previous[0]},{len(previous[1])}"
        with translated(self._path):
            self._oss.bucket.put_object(self._key, previous[1] + tail, headers=headers)

    def complete(self) -> None:
        with translated(self._path):
            self._oss.bucket.complete_multipart_upload(self._key, self.upload_id, self.parts)

    def abort(self) -> None:
        try:
            with translated(self._path):
                self._oss.bucket.abort_multipart_upload(self._key, self.upload_id)
        except PathNotFoundError:
            pass  # already completed or aborted
