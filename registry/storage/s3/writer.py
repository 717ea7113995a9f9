"""The S3 streamed writer: one multipart upload per file, resumable from any process.

As in Distribution's s3 driver, close() without commit() leaves the multipart upload in
progress (its short tail uploaded as a last part), and writer(path, append=True) finds that
upload by its key. A short part may only end an upload, so a resume that meets one first
completes the upload and starts a new one from the resulting object (copied server-side, or
read back when it is smaller than a part). Every close therefore ends a part, or the object
that the upload started from: a resume at a given size keeps the parts up to it (completing
the upload without the rest), or the object's first bytes.
"""

from __future__ import annotations

from registry.storage.driver import InvalidOffsetError
from registry.storage.parts import PartWriter
from registry.storage.s3.bucket import MIN_PART, Part, S3Bucket


def open_writer(s3: S3Bucket, path: str, append: bool, size: int | None = None) -> S3Writer:
    key = s3.keys.key(path)
    with s3.errors(path):
        if not append or size == 0:
            return _new_file(s3, path, key)
        return _resume(s3, path, key, size)


def _new_file(s3: S3Bucket, path: str, key: str) -> S3Writer:
    # A stale upload would be resumed by a later append, and a stale object taken for the
    # start of this write by a resume at a size: neither may outlive the file they belong to.
    s3.abort_uploads(key)
    s3.client.delete_object(Bucket=s3.bucket, Key=key)
    return S3Writer(s3, path, key, new_file=True)


def _resume(s3: S3Bucket, path: str, key: str, size: int | None) -> S3Writer:
    uploads = [u for u in s3.uploads(key) if u["Key"] == key]
    if not uploads:
        return _continue_object(s3, path, key, size)
    upload = max(uploads, key=lambda u: u["Initiated"])["UploadId"]
    parts = _numbered_from_one(s3.list_parts(key, upload))
    kept = parts if size is None else _parts_up_to(parts, size)
    if kept is None:  # not a part boundary: a cut of the object the upload started from
        stored = s3.head_size(key)
        if stored is None or size is None or size > stored:
            raise InvalidOffsetError(path, size or 0, driver="s3")
        s3.abort_uploads(key)
        return _continue_object(s3, path, key, size)
    if kept == parts and (not parts or parts[-1].size >= MIN_PART):
        return S3Writer(s3, path, key, upload=upload, parts=parts)
    # A short last part, or parts after `size` (a killed writer's): completing the upload
    # with the parts to keep drops the others, and the object goes on in a new upload.
    s3.complete_upload(key, upload, kept)
    if size is not None:
        s3.abort_uploads(key)  # any older upload, so that no later resume picks it up
    return _continue_object(s3, path, key, size)


def _continue_object(s3: S3Bucket, path: str, key: str, size: int | None) -> S3Writer:
    """Go on after the first `size` bytes (all by default) of the object at `key`."""
    stored = s3.head_size(key)
    keep = (stored or 0) if size is None else size
    if stored is None or keep > stored:
        if keep:
            raise InvalidOffsetError(path, keep, driver="s3")
        return S3Writer(s3, path, key)
    if keep >= MIN_PART:
        upload = s3.create_upload(key)
        return S3Writer(s3, path, key, upload=upload, parts=s3.copy_parts(key, upload, key, keep))
    pending = b""
    if keep:
        answer = s3.client.get_object(Bucket=s3.bucket, Key=key, Range=f"bytes=0-{keep - 1}")
        with answer["Body"] as body:
            pending = body.read()
    if keep < stored:  # the cut is stored now, so that a rollback keeps it
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=pending, **s3.object_args())
    return S3Writer(s3, path, key, pending=pending)


def _numbered_from_one(parts: list[Part]) -> list[Part]:
    """The parts 1, 2, ... up to the first gap: a later part is no part of the file."""
    kept = []
    for number, part in enumerate(parts, 1):
        if part.number != number:
            break
        kept.append(part)
    return kept


def _parts_up_to(parts: list[Part], size: int) -> list[Part] | None:
    """The first parts holding exactly `size` bytes, None when `size` ends no part."""
    total = 0
    for count, part in enumerate(parts):
        if total == size:
            return parts[:count]
        total += part.size
    return parts if total == size else None


class S3Writer(PartWriter):
    driver = "s3"

    def __init__(
        self,
        s3: S3Bucket,
        path: str,
        key: str,
        *,
        upload: str | None = None,
        parts: list[Part] | None = None,
        pending: bytes = b"",
        new_file: bool = False,
    ) -> None:
        parts = parts or []
        size = sum(part.size for part in parts) + len(pending)
        guard = lambda: s3.errors(path)  # noqa: E731
        super().__init__(path, s3.part_size, guard, size=size, pending=pending)
        self._s3 = s3
        self._key = key
        self._upload = upload
        self._parts = parts
        self._found = list(parts)  # the parts that were there before this writer
        self._new_file = new_file

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

    def _revert(self) -> None:
        if self._upload is None or len(self._parts) == len(self._found):
            if self._new_file:
                self._persist(b"")
            return  # nothing sent: the upload, or the object, is as it was found
        # The parts this writer sent cannot be deleted one by one, and a resume would list
        # them: the upload ends here, completed with the parts it had (they are whole parts),
        # or aborted when it had none (the object at the key, if any, is the file).
        if self._found:
            self._s3.complete_upload(self._key, self._upload, self._found)
        else:
            self._s3.abort_upload(self._key, self._upload)
        if self._new_file:
            self._upload = None
            self._persist(b"")
