"""Aliyun OSS driver: objects under `rootdirectory`; a streamed write is a multipart upload
completed at commit and kept open until then, across writers and processes (writer.py).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import oss2
from oss2.exceptions import ServerError

from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.cloud import directory, nonempty, walk_files
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageError,
)
from registry.storage.oss.bucket import PAGE, OSSBucket, check_crc, translated
from registry.storage.oss.upload import MultipartUpload
from registry.storage.oss.writer import open_writer


class OSSDriver(OSSBucket):
    # -- reads ------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        with translated(path):
            result = self.bucket.get_object(self.key(path))
            data: bytes = result.read()
        check_crc(result, path)
        return data

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        headers = {"x-oss-range-behavior": "standard"}  # a range past the end answers 416
        byte_range = (offset, None) if offset else None
        try:
            with translated(path):
                result = self.bucket.get_object(self.key(path), byte_range, headers=headers)
        except StorageError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ServerError) or cause.status != 416:
                raise
            if offset > self.stat(path).size:
                raise InvalidOffsetError(path, offset) from None
            return empty_reader()
        return chunk_reader(
            _chunks(result, path, offset == 0), result.close, lambda: translated(path)
        )

    def stat(self, path: str) -> FileInfo:
        if path == "/":
            return directory(path)
        try:
            with translated(path):
                head = self.bucket.head_object(self.key(path))
        except PathNotFoundError:
            with translated(path):
                below = self.bucket.list_objects_v2(self.keys.prefix(path), max_keys=1)
            if not below.object_list:
                raise
            return directory(path)
        mtime = datetime.fromtimestamp(head.last_modified, tz=UTC)
        return FileInfo(path, head.content_length, mtime, False)

    def pages(self, prefix: str, delimiter: str = "") -> Iterator[Any]:
        """ListObjectsV2 pages under `prefix`, following continuation tokens."""
        token = ""
        while True:
            with translated(prefix):
                page = self.bucket.list_objects_v2(
                    prefix, delimiter, continuation_token=token, max_keys=PAGE
                )
            yield page
            if not page.is_truncated:
                return
            token = page.next_continuation_token

    def list(self, path: str) -> builtins.list[str]:
        names: set[str] = set()
        for page in self.pages(self.keys.prefix(path), "/"):
            names.update(page.prefix_list)
            names.update(obj.key for obj in page.object_list)
        return self.keys.listed(path, names)

    def walk(self, path: str) -> Iterator[FileInfo]:
        yield from walk_files(path, nonempty(self._files(path), path, self.name))

    def _files(self, path: str) -> Iterator[FileInfo]:
        for page in self.pages(self.keys.prefix(path)):
            for obj in page.object_list:
                mtime = datetime.fromtimestamp(obj.last_modified, tz=UTC)
                yield FileInfo(self.keys.path(obj.key), obj.size, mtime, False)

    # -- writes -----------------------------------------------------------------------

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        return open_writer(self, path, append, size)

    def move(self, source: str, dest: str) -> None:
        size = self.stat(source).size
        if size <= self.copy_limit:
            with translated(source):
                self.bucket.copy_object(
                    self.settings.bucket, self.key(source), self.key(dest), self.write_headers
                )
        else:
            upload = MultipartUpload.start(self, dest)
            upload.copy_from(source, size)
            upload.complete()
        with translated(source):
            self.bucket.delete_object(self.key(source))

    def delete(self, path: str) -> None:
        key = self.key(path)
        keys = [obj.key for page in self.pages(self.keys.prefix(path)) for obj in page.object_list]
        try:
            self.stat(path)
            keys.insert(0, key)
        except PathNotFoundError:
            pass
        self._abort_uploads(key)
        if not keys:
            raise PathNotFoundError(path)
        for start in range(0, len(keys), PAGE):
            with translated(path):
                self.bucket.batch_delete_objects(keys[start : start + PAGE])

    def _abort_uploads(self, key: str) -> None:
        """Abandoned multipart uploads below a deleted path would be billed forever."""
        with translated(key):
            for upload in oss2.MultipartUploadIterator(self.bucket, prefix=key):
                if upload.key == key or upload.key.startswith(key + "/"):
                    self.bucket.abort_multipart_upload(upload.key, upload.upload_id)

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        if not self.settings.redirect or method not in ("GET", "HEAD"):
            return None
        seconds = int(self.settings.redirect_expiry.total_seconds())
        url: str = self.bucket.sign_url(method, self.key(path), seconds, slash_safe=True)
        return url


def _chunks(result: Any, path: str, whole: bool) -> Iterator[bytes]:
    while chunk := result.read(READ_CHUNK):
        yield chunk
    if whole:
        check_crc(result, path)
