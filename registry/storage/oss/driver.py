"""Aliyun OSS driver: objects under `rootdirectory`; a streamed write is a multipart upload
completed at commit and kept open until then, across writers and processes (oss_writer.py).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

import oss2
from oss2.exceptions import NoSuchBucket, NotFound, OssError, RequestError, ServerError
from requests import RequestException
from urllib3.exceptions import HTTPError

from registry.durations import parse_duration
from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.cloud import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    KeySpace,
    directory,
    nonempty,
    walk_files,
)
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    StorageUnavailableError,
)
from registry.storage.settings import OSSSettings

MIN_PART_SIZE = 100 * 1024  # OSS refuses smaller parts, except the last one
PAGE = 1000  # the most keys OSS lists or deletes in one request


@contextmanager
def translated(path: str) -> Iterator[None]:
    """Map oss2 failures onto the storage error types."""
    try:
        yield
    except NoSuchBucket:
        raise StorageError("the bucket does not exist", path=path) from None
    except NotFound:
        raise PathNotFoundError(path) from None
    except RequestError as exc:
        raise StorageUnavailableError(f"backend unreachable: {exc.exception}", path=path) from exc
    except ServerError as exc:
        raise _server_error(exc, path) from exc
    except OssError as exc:
        raise StorageError(f"request failed: {exc}", path=path) from exc
    except (RequestException, HTTPError, OSError) as exc:  # a body cut off while streaming
        raise StorageUnavailableError(f"backend connection lost: {exc}", path=path) from exc


def _server_error(exc: ServerError, path: str) -> StorageError:
    code = f"{exc.code or exc.status}: {exc.message}"
    if exc.status == 403:
        return StorageError(
            f"access denied ({code}); check accesskeyid and accesskeysecret", path=path
        )
    if exc.status >= 500 or exc.status in (408, 429):
        return StorageUnavailableError(f"backend unavailable ({code})", path=path)
    return StorageError(f"error {exc.status} ({code})", path=path)


def endpoint_url(settings: OSSSettings) -> str:
    """`endpoint`, else `<region>[-internal].aliyuncs.com` as Distribution builds it."""
    host = settings.endpoint or (
        f"{settings.region}{'-internal' if settings.internal else ''}.aliyuncs.com"
    )
    if host.startswith(("http://", "https://")):
        return host
    return f"{'https' if settings.secure else 'http'}://{host}"


class OSSDriver(StorageDriver):
    name = "oss"
    # CopyObject takes sources up to 1 GB; bigger files move as UploadPartCopy ranges.
    copy_limit = 1024**3
    copy_part_size = 1024**3

    def __init__(
        self,
        settings: OSSSettings,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        self.settings = settings
        self.chunksize = settings.chunksize
        self.keys = KeySpace.under(settings.rootdirectory)
        auth = oss2.Auth(settings.accesskeyid, settings.accesskeysecret.get_secret_value())
        # oss2 hands `connect_timeout` to requests as is: (connect, read) seconds.
        self.bucket = oss2.Bucket(
            auth, endpoint_url(settings), settings.bucket, connect_timeout=timeout
        )
        encrypt = {"x-oss-server-side-encryption": "AES256"}
        self.write_headers: dict[str, str] = encrypt if settings.encrypt else {}

    def key(self, path: str) -> str:
        return self.keys.key(path)

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

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (all there: a short object is InvalidOffsetError)."""
        headers = {"x-oss-range-behavior": "standard"}
        byte_range = (offset, offset + length - 1)
        with translated(path):
            result = self.bucket.get_object(self.key(path), byte_range, headers=headers)
            with result:
                data: bytes = result.read()
        if len(data) != length:
            raise InvalidOffsetError(path, offset + length)
        return data

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
        if not names and path != "/":
            raise PathNotFoundError(path)
        return sorted({self.keys.path(name) for name in names})

    def walk(self, path: str) -> Iterator[FileInfo]:
        yield from walk_files(path, nonempty(self._files(path), path, self.name))

    def _files(self, path: str) -> Iterator[FileInfo]:
        for page in self.pages(self.keys.prefix(path)):
            for obj in page.object_list:
                mtime = datetime.fromtimestamp(obj.last_modified, tz=UTC)
                yield FileInfo(self.keys.path(obj.key), obj.size, mtime, False)

    # -- writes -----------------------------------------------------------------------

    def put_content(self, path: str, data: bytes) -> None:
        with translated(path):
            self.bucket.put_object(self.key(path), data, headers=self.write_headers)

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        from registry.storage.oss.writer import open_writer

        return open_writer(self, path, append, size)

    def move(self, source: str, dest: str) -> None:
        size = self.stat(source).size
        if size <= self.copy_limit:
            with translated(source):
                self.bucket.copy_object(
                    self.settings.bucket, self.key(source), self.key(dest), self.write_headers
                )
        else:
            from registry.storage.oss.writer import MultipartUpload

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
        seconds = int(parse_duration(self.settings.redirect_expiry).total_seconds())
        url: str = self.bucket.sign_url(method, self.key(path), seconds, slash_safe=True)
        return url

    def close(self) -> None:
        self.bucket.session.session.close()


def _chunks(result: Any, path: str, whole: bool) -> Iterator[bytes]:
    while chunk := result.read(READ_CHUNK):
        yield chunk
    if whole:
        check_crc(result, path)


def check_crc(result: Any, path: str) -> None:
    """Compare the CRC-64 of what was read with the server's, when both are known."""
    client, server = result.client_crc, result.server_crc
    if client is not None and server is not None and client != server:
        raise StorageUnavailableError(f"corrupt read of {path}: CRC-64 mismatch", path=path)
