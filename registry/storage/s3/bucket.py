"""The S3 bucket as the driver and its writer both use it: the boto3 client, the translation of
botocore's failures into storage errors, and the multipart-upload calls."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from registry.config.drivers import S3Settings
from registry.storage import cloud
from registry.storage.chunked import byte_ranges
from registry.storage.driver import PathNotFoundError, StorageError, StorageUnavailableError

MIN_PART = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last one
MAX_COPY = 5 * 1024**3  # CopyObject's limit; larger objects are copied part by part
COPY_PART = 1024**3
DELETE_BATCH = 1000  # DeleteObjects' limit
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}
_BUSY = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    etag: str
    size: int


class S3Bucket(cloud.ObjectStore):
    """The connection to one bucket; S3Driver adds the file operations."""

    name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.keys = cloud.KeySpace.under(settings.rootdirectory)
        self.part_size = settings.chunksize
        self.expiry = int(settings.redirect_expiry.total_seconds())
        self.client = boto3.session.Session().client(
            "s3",
            region_name=settings.region,
            endpoint_url=_endpoint(settings),
            use_ssl=settings.secure,
            aws_access_key_id=settings.accesskey,
            aws_secret_access_key=settings.secretkey.get_secret_value(),
            config=Config(
                signature_version="s3v4",
                connect_timeout=cloud.CONNECT_TIMEOUT,
                read_timeout=cloud.READ_TIMEOUT,
                retries={"max_attempts": cloud.RETRY_ATTEMPTS, "mode": "standard"},
                s3={"addressing_style": "path" if settings.forcepathstyle else "auto"},
                max_pool_connections=32,
            ),
        )

    # --- multipart uploads, used by the writer -------------------------------------------

    def object_args(self) -> dict[str, str]:
        args = {}
        if self.settings.encrypt:
            args["ServerSideEncryption"] = "AES256"
        if self.settings.storageclass.upper() != "NONE":
            args["StorageClass"] = self.settings.storageclass
        return args

    def create_upload(self, key: str) -> str:
        answer = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, **self.object_args()
        )
        upload_id: str = answer["UploadId"]
        return upload_id

    def upload_part(self, key: str, upload: str, number: int, data: bytes) -> Part:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=data
        )
        return Part(number, answer["ETag"], len(data))

    def copy_parts(self, key: str, upload: str, src: str, size: int) -> builtins.list[Part]:
        """Server-side copy of the object `src` into the upload, as parts of even size."""
        count = -(-size // COPY_PART)
        parts = []
        for number, (start, length) in enumerate(byte_ranges(0, size, -(-size // count)), 1):
            answer = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": src},
                CopySourceRange=f"bytes={start}-{start + length - 1}",
            )
            parts.append(Part(number, answer["CopyPartResult"]["ETag"], length))
        return parts

    def complete_upload(self, key: str, upload: str, parts: builtins.list[Part]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )

    def abort_upload(self, key: str, upload: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
        except ClientError as exc:
            if error_code(exc) not in ("NoSuchUpload", *NOT_FOUND):
                raise

    def uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        """In-progress multipart uploads whose key starts with `prefix`."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        try:
            for page in pages:
                yield from page.get("Uploads", [])
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":  # how some S3-compatible servers say "none"
                raise

    def abort_uploads(self, key: str, below: bool = False) -> int:
        """Abort the uploads to `key` (and, if `below`, to keys under it); returns how many."""
        aborted = 0
        for upload in self.uploads(key):
            if upload["Key"] == key or (below and upload["Key"].startswith(f"{key}/")):
                self.abort_upload(upload["Key"], upload["UploadId"])
                aborted += 1
        return aborted

    def list_parts(self, key: str, upload: str) -> builtins.list[Part]:
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload
        )
        # S3 leaves "Parts" out of the answer for an upload that has none yet.
        parts = (p for page in pages for p in page.get("Parts", []))
        return [Part(p["PartNumber"], p["ETag"], p["Size"]) for p in parts]

    def head_size(self, key: str) -> int | None:
        try:
            size: int = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            return size
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                return None
            raise

    # --- errors --------------------------------------------------------------------------

    @contextmanager
    def errors(self, path: str) -> Iterator[None]:
        """Translate botocore's failures into the storage errors callers act on."""
        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, path) from exc
        except NoCredentialsError as exc:
            raise StorageError(f"no credentials: {exc}", driver=self.name, path=path) from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # refused, reset, timed out
            raise StorageUnavailableError(str(exc), driver=self.name, path=path) from exc
        except BotoCoreError as exc:
            raise StorageError(str(exc), driver=self.name, path=path) from exc

    def _client_error(self, exc: ClientError, path: str) -> StorageError:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in NOT_FOUND:
            return PathNotFoundError(path, driver=self.name)
        message = f"{exc.operation_name} {path}: {code} {exc.response['Error'].get('Message', '')}"
        if code in _DENIED:
            hint = "access denied by S3 (check accesskey, secretkey, region and bucket): "
            return StorageError(hint + message, driver=self.name, path=path)
        if code == "NoSuchBucket":
            return StorageError(f"bucket {self.bucket!r} does not exist", driver=self.name)
        if code in _BUSY or status >= 500:
            return StorageUnavailableError(message, driver=self.name, path=path)
        return StorageError(message, driver=self.name, path=path)

    def close(self) -> None:
        self.client.close()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _endpoint(settings: S3Settings) -> str | None:
    endpoint = settings.regionendpoint
    if endpoint and "://" not in endpoint:
        endpoint = f"{'https' if settings.secure else 'http'}://{endpoint}"
    return endpoint
