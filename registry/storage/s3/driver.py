"""Amazon S3 (and S3-compatible) driver on boto3: multipart streamed writes, batched deletes."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import BinaryIO

from botocore.exceptions import ClientError

from registry.storage import cloud
from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageError,
)
from registry.storage.s3.bucket import DELETE_BATCH, MAX_COPY, NOT_FOUND, S3Bucket, error_code
from registry.storage.s3.writer import open_writer


class S3Driver(S3Bucket):
    # --- whole objects -------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        with self.errors(path):
            body = self.client.get_object(Bucket=self.bucket, Key=self.keys.key(path))["Body"]
            with body:
                data: bytes = body.read()
                return data

    def put_content(self, path: str, data: bytes) -> None:
        with self.errors(path):
            self.client.put_object(
                Bucket=self.bucket, Key=self.keys.key(path), Body=data, **self.object_args()
            )

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        key = self.keys.key(path)
        with self.errors(path):
            try:
                extra = {"Range": f"bytes={offset}-"} if offset else {}
                body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
            except ClientError as exc:
                if error_code(exc) not in ("InvalidRange", "416"):
                    raise
                if offset == self.stat(path).size:
                    return empty_reader()
                raise InvalidOffsetError(path, offset, driver=self.name) from None
        return chunk_reader(body.iter_chunks(READ_CHUNK), body.close, lambda: self.errors(path))

    def stat(self, path: str) -> FileInfo:
        key = self.keys.key(path)
        with self.errors(path):
            if key:
                try:
                    head = self.client.head_object(Bucket=self.bucket, Key=key)
                    return FileInfo(path, head["ContentLength"], head["LastModified"], False)
                except ClientError as exc:
                    if error_code(exc) not in NOT_FOUND:
                        raise
            if path != "/" and not self._any_below(path):
                raise PathNotFoundError(path, driver=self.name)
        return cloud.directory(path)

    def _any_below(self, path: str) -> bool:
        page = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self.keys.prefix(path), MaxKeys=1
        )
        return bool(page.get("KeyCount", 0))

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        operation = {"GET": "get_object", "HEAD": "head_object"}.get(method)
        if not self.settings.redirect or operation is None:
            return None
        with self.errors(path):
            params = {"Bucket": self.bucket, "Key": self.keys.key(path)}
            url: str = self.client.generate_presigned_url(operation, params, self.expiry)
            return url

    # --- the tree ------------------------------------------------------------------------

    def _names_below(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            yield from (o["Key"][len(prefix) :] for o in page.get("Contents", []))
            yield from (p["Prefix"][len(prefix) : -1] for p in page.get("CommonPrefixes", []))

    def _files_below(self, path: str) -> Iterator[FileInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.keys.prefix(path)
        )
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    key_path = self.keys.path(item["Key"])
                    yield FileInfo(key_path, item["Size"], item["LastModified"], False)

    def move(self, source: str, dest: str) -> None:
        src, dst = self.keys.key(source), self.keys.key(dest)
        size = self.stat(source).size
        with self.errors(source):
            if size <= MAX_COPY:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=dst,
                    CopySource={"Bucket": self.bucket, "Key": src},
                    **self.object_args(),
                )
            else:
                self._copy_in_parts(src, dst, size)
            self.client.delete_object(Bucket=self.bucket, Key=src)

    def _copy_in_parts(self, src: str, dst: str, size: int) -> None:
        upload = self.create_upload(dst)
        self.complete_upload(dst, upload, self.copy_parts(dst, upload, src, size))

    def delete(self, path: str) -> None:
        key, prefix = self.keys.key(path), self.keys.prefix(path)
        with self.errors(path):
            keys = self._keys_to_delete(key, prefix)
            found = cloud.delete_in_batches(keys, DELETE_BATCH, self._delete_batch)
            found += self.abort_uploads(key, below=True)
        if not found:
            raise PathNotFoundError(path, driver=self.name)

    def _keys_to_delete(self, key: str, prefix: str) -> Iterator[str]:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            yield key
        except ClientError as exc:
            if error_code(exc) not in NOT_FOUND:
                raise
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            yield from (item["Key"] for item in page.get("Contents", []))

    def _delete_batch(self, keys: builtins.list[str]) -> None:
        answer = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StorageError(f"delete of {first['Key']} failed: {first.get('Message')}")

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        return open_writer(self, path, append, size)
