"""The OSS bucket as the driver and its writer both use it: the oss2 client, its limits, the
translation of oss2 failures into storage errors, and the CRC check of reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import oss2
from oss2.exceptions import NoSuchBucket, NotFound, OssError, RequestError, ServerError
from requests import RequestException
from urllib3.exceptions import HTTPError

from registry.config.drivers import OSSSettings
from registry.storage.cloud import CONNECT_TIMEOUT, READ_TIMEOUT, KeySpace
from registry.storage.driver import (
    InvalidOffsetError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    StorageUnavailableError,
)

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


class OSSBucket(StorageDriver):
    """The connection to one bucket; OSSDriver adds the file operations."""

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

    def put_content(self, path: str, data: bytes) -> None:
        with translated(path):
            self.bucket.put_object(self.key(path), data, headers=self.write_headers)

    def close(self) -> None:
        self.bucket.session.session.close()


def check_crc(result: Any, path: str) -> None:
    """Compare the CRC-64 of what was read with the server's, when both are known."""
    client, server = result.client_crc, result.server_crc
    if client is not None and server is not None and client != server:
        raise StorageUnavailableError(f"corrupt read of {path}: CRC-64 mismatch", path=path)
