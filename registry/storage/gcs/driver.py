"""Google Cloud Storage driver: composed streamed writes, rewrites, V4 signed URLs.

Credentials: `keyfile` (a service-account JSON key) when set; otherwise anonymous when an
`endpoint` is set (an emulator), else Application Default Credentials. Signed redirect URLs
need a key that can sign: without one `redirect_url` returns None and the registry serves
the blob itself. With an `endpoint` and a keyfile, API calls authenticate with self-signed
JWTs, so no Google token server is needed.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO
from urllib.parse import quote

import requests
from google.api_core import exceptions as api
from google.auth.credentials import Signing
from google.cloud import storage

from registry.storage import cloud
from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.driver import FileInfo, FileWriter, InvalidOffsetError, PathNotFoundError
from registry.storage.gcs.bucket import DELETE_BATCH, GCSBucket
from registry.storage.gcs.markers import parts_of
from registry.storage.gcs.writer import open_writer


class GCSDriver(GCSBucket):
    def get_content(self, path: str) -> bytes:
        return self._get(self._media_url(path), path).content

    def put_content(self, path: str, data: bytes) -> None:
        with self.errors(path):
            self.blob(path).upload_from_string(
                data, content_type="application/octet-stream", **self.calls
            )

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        if offset:
            size = self.stat(path).size
            if offset > size:
                raise InvalidOffsetError(path, offset, driver=self.name)
            if offset == size:
                return empty_reader()
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.errors(path):
            response = self.http.get(
                self._media_url(path), headers=headers, stream=True, timeout=self.timeout
            )
            self.check(response, path)
        # Pieces of the size blob GETs read, so that each is handed on without a copy.
        chunks = response.iter_content(READ_CHUNK)
        return chunk_reader(chunks, response.close, lambda: self.errors(path))

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        return open_writer(self, path, append, size)

    def stat(self, path: str) -> FileInfo:
        if path == "/":
            return cloud.directory(path)
        try:
            found = self._get(self._object_url(path) + "?fields=size,updated", path).json()
        except PathNotFoundError:
            if not self._any_below(path):
                raise
            return cloud.directory(path)
        updated = datetime.fromisoformat(found["updated"])
        return FileInfo(path, int(found.get("size") or 0), updated, False)

    def _object_url(self, path: str) -> str:
        key = quote(self.keys.key(path), safe="")
        return f"{self.base_url}/storage/v1/b/{self.settings.bucket}/o/{key}"

    def _media_url(self, path: str) -> str:
        key = quote(self.keys.key(path), safe="")
        return f"{self.base_url}/download/storage/v1/b/{self.settings.bucket}/o/{key}?alt=media"

    def _get(self, url: str, path: str) -> requests.Response:
        """A small GET on the JSON or media API, waited for and retried as the SDK's calls
        are; cheaper in CPU than the SDK's object and download machinery."""

        def attempt() -> requests.Response:
            response = self.http.get(url, timeout=self.timeout)
            if response.status_code >= 300:
                raise api.from_http_response(response)  # type: ignore[no-untyped-call]
            return response

        with self.errors(path):
            answer: requests.Response = self.retry(attempt)()
            return answer

    def _any_below(self, path: str) -> bool:
        with self.errors(path):
            below = self.client.list_blobs(
                self.bucket, prefix=self.keys.prefix(path), max_results=1, **self.calls
            )
            return next(iter(below), None) is not None

    def _names_below(self, prefix: str) -> Iterator[str]:
        listing = self.client.list_blobs(self.bucket, prefix=prefix, delimiter="/", **self.calls)
        yield from (blob.name[len(prefix) :] for blob in listing)
        yield from (sub[len(prefix) : -1] for sub in listing.prefixes)

    def _files_below(self, path: str) -> Iterator[FileInfo]:
        listing = self.client.list_blobs(self.bucket, prefix=self.keys.prefix(path), **self.calls)
        for blob in listing:
            if not blob.name.endswith("/"):
                yield FileInfo(self.keys.path(blob.name), blob.size or 0, blob.updated, False)

    def move(self, source: str, dest: str) -> None:
        src, dst = self.blob(source), self.blob(dest)
        with self.errors(source):
            token, _, _ = dst.rewrite(src, **self.calls)
            while token is not None:  # large objects are rewritten in several calls
                token, _, _ = dst.rewrite(src, token=token, **self.calls)
            src.delete(**self.calls)

    def delete(self, path: str) -> None:
        key, parts = self.keys.key(path), builtins.list[str]()
        with self.errors(path):
            found = self.bucket.get_blob(key, **self.calls)
            exact = [] if found is None else [found]
            below = self.client.list_blobs(self.bucket, prefix=self.keys.prefix(path), **self.calls)
            names = (_note_parts(blob, parts) for blob in itertools.chain(exact, below))
            if not cloud.delete_in_batches(names, DELETE_BATCH, self._delete_batch):
                raise PathNotFoundError(path, driver=self.name)
        for folder in parts:  # the parts of unfinished writes go with their markers
            self.delete_quietly(folder)

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        if not self.settings.redirect or method not in ("GET", "HEAD"):
            return None
        if not isinstance(self.credentials, Signing):
            return None  # anonymous or token-only credentials cannot sign a URL
        with self.errors(path):
            url: str = self.blob(path).generate_signed_url(
                version="v4",
                expiration=self.expiry,
                method=method,
                credentials=self.credentials,
                api_access_endpoint=self.base_url if self.settings.endpoint else None,
            )
            return url


def _note_parts(blob: storage.Blob, parts: builtins.list[str]) -> str:
    """`blob`'s name; the parts folder it names, if it is an upload marker, goes to `parts`."""
    folder = parts_of(blob)
    if folder is not None:
        parts.append(folder)
    name: str = blob.name
    return name
