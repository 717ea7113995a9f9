"""The S3 streamed writer: one multipart upload per file, resumable from any process.

As in Distribution's s3 driver, close() without commit() leaves the multipart upload in
progress (its short tail uploaded as a last part), and writer(path, append=True) finds that
upload by its key. A short part may only end an upload, so a resume that meets one first
completes the upload and starts a new one from the resulting object (copied server-side, or
read back when it is smaller than a part).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.storage import cloud
from registry.storage.s3 import MIN_PART, Part

if TYPE_CHECKING:
    from registry.storage.s3 import S3Driver


def open_writer(s3: S3Driver, path: str, append: bool) -> S3Writer:
    key = s3.keys.key(path)
    with s3.errors(path):
        if not append:
            s3.abort_uploads(key)  # a stale upload would otherwise be resumed by a later append
            return S3Writer(s3, path, key)
        return _resume(s3, path, key)


def _resume(s3: S3Driver, path: str, key: str) -> S3Writer:
    uploads = [u for u in s3.uploads(key) if u["Key"] == key]
    if uploads:
        upload = max(uploads, key=lambda u: u["Initiated"])["UploadId"]
        parts = s3.list_parts(key, upload)
        if not parts or parts[-1].size >= MIN_PART:
            return S3Writer(s3, path, key, upload=upload, parts=parts)
        s3.complete_upload(key, upload, parts)
    return _continue_object(s3, path, key)


def _continue_object(s3: S3Driver, path: str, key: str) -> S3Writer:
    size = s3.head_size(key)
    if size is None:
        return S3Writer(s3, path, key)
    if size < MIN_PART:
        body = s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"]
        with body:
            return S3Writer(s3, path, key, pending=body.read())
    upload = s3.create_upload(key)
    return S3Writer(s3, path, key, upload=upload, parts=s3.copy_parts(key, upload, key, size))


class S3Writer(cloud.PartWriter):
    driver = "s3"

    def __init__(
        self,
        s3: S3Driver,
        path: str,
        key: str,
        *,
        upload: str | None = None,
        parts: list[Part] | None = None,
        pending: bytes = b"",
    ) -> None:
        parts = parts or []
        size = sum(part.size for part in parts) + len(pending)
        guard = lambda: s3.errors(path)  # noqa: E731
        super().__init__(path, s3.part_size, guard, size=size, pending=pending)
        self._s3 = s3
        self._key = key
        self._upload = upload
        self._parts = parts

    def _upload_part(self, data: bytes) -> None:
        if self._upload is None:
            self._upload = self._s3.create_upload(self._key)
        number = len(self._parts) + 1
        self._parts.append(self._s3.upload_part(self._key, self._upload, number, data))

    def _finish(self, tail: bytes) -> None:
        if not self._parts:  # small enough for one request: no upload to complete
            self._s3.client.put_object(
                Bucket=self._s3.bucket, Key=self._key, Body=tail, **self._s3.object_args()
            )
            if self._upload is not None:
                self._s3.abort_upload(self._key, self._upload)
            return
        if tail:
            self._upload_part(tail)
        assert self._upload is not None
        self._s3.complete_upload(self._key, self._upload, self._parts)

    def _persist(self, tail: bytes) -> None:
        if tail:
            self._upload_part(tail)
        elif self._upload is None:  # an empty upload still tells a resume to start from zero
            self._upload = self._s3.create_upload(self._key)

    def _discard(self) -> None:
        if self._upload is not None:
            self._s3.abort_upload(self._key, self._upload)
        self._s3.client.delete_object(Bucket=self._s3.bucket, Key=self._key)
