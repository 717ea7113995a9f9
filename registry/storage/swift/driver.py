"""OpenStack Swift driver laid out as Distribution's: files under `files/`, DLO segments under
`segments/`, so a container written by either registry reads in the other.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote, urlparse

from swiftclient.client import Connection
from swiftclient.utils import LengthWrapper, generate_temp_url

from registry.durations import parse_duration
from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.cloud import (
    CONNECT_TIMEOUT,
    DIRECTORY_TIME,
    READ_TIMEOUT,
    RETRY_ATTEMPTS,
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
from registry.storage.settings import SwiftSettings
from registry.storage.swift.session import SwiftSession, http_status, translated

CONTENT_TYPE = "application/octet-stream"
MANIFEST = "x-object-manifest"
PAGE = 10000  # Swift's largest listing page
_RACE_RETRY_SECONDS = 0.05
_HEAD_THREADS = 8
UPLOAD_THREADS = 16  # segment uploads, shared by every writer of a driver


class SwiftDriver(StorageDriver):
    name = "swift"
    # How long a fresh manifest may take to show all its segments on an eventually consistent
    # cluster before commit gives up.
    consistency_wait = 15.0
    page_size = PAGE

    def __init__(
        self,
        settings: SwiftSettings,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        retries: int = RETRY_ATTEMPTS - 1,
    ) -> None:
        self.settings = settings
        self.container = settings.container
        self.chunksize = settings.chunksize
        self.session = SwiftSession(settings, timeout=timeout, retries=retries)
        prefix = settings.prefix.strip("/")
        self.keys = KeySpace.under(f"{prefix}/files")
        self.segments_root = f"{prefix}/segments".lstrip("/")
        self.uploads = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="swift-segment")

    def conn(self) -> Connection:
        return self.session.conn()

    # -- names ------------------------------------------------------------------------

    def object_name(self, path: str) -> str:
        return self.keys.key(path)

    def new_segments_prefix(self, path: str) -> str:
        digest = hashlib.sha1(path.encode() + os.urandom(32)).hexdigest()
        return f"{self.segments_root}/{digest[:3]}/{digest[3:]}"

    @staticmethod
    def segment_name(prefix: str, number: int) -> str:
        return f"{prefix}/{number:016d}"

    # -- reads ------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        try:
            return self._get(path)
        except PathNotFoundError:
            # A GET racing two PUTs of the same object can see neither for an instant (the
            # object server swaps its .data files): ask once more before calling it missing.
            time.sleep(_RACE_RETRY_SECONDS)
            return self._get(path)

    def _get(self, path: str) -> bytes:
        with translated(path):
            _, body = self.conn().get_object(self.container, self.object_name(path))
        return bytes(body)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        prefix = self.manifest_prefix(path)
        if prefix is not None:  # segments read directly: see swift_reader.py
            from registry.storage.swift.reader import segments_reader

            return segments_reader(self, path, prefix, offset)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with translated(path):
                _, body = self.conn().get_object(
                    self.container, self.object_name(path), READ_CHUNK, headers=headers
                )
        except StorageError as exc:
            if http_status(exc) != 416:
                raise
            if offset > self.stat(path).size:
                raise InvalidOffsetError(path, offset) from None
            return empty_reader()
        return chunk_reader(iter(body), body.close, lambda: translated(path))

    def head(self, path: str) -> dict[str, str]:
        """The object's own headers: a DLO manifest's, not those of its segments."""
        with translated(path):
            headers: dict[str, str] = self.conn().head_object(
                self.container, self.object_name(path), query_string="multipart-manifest=get"
            )
        return headers

    def manifest_prefix(self, path: str) -> str | None:
        """The segments prefix of the DLO at `path`; None for a plain object or nothing."""
        try:
            value = self.head(path).get(MANIFEST)
        except PathNotFoundError:
            return None
        return value.split("/", 1)[1] if value else None

    def stat(self, path: str) -> FileInfo:
        if path == "/":
            return directory(path)
        try:
            with translated(path):
                headers = self.conn().head_object(self.container, self.object_name(path))
        except PathNotFoundError:
            if next(self.entries(self.keys.prefix(path), limit=1), None) is None:
                raise
            return directory(path)
        size = int(headers.get("content-length", 0))
        return FileInfo(path, size, _timestamp(headers), False)

    def entries(
        self, prefix: str, delimiter: str | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Container listing entries under `prefix`, page by page."""
        limit = limit or self.page_size
        marker = ""
        while True:
            with translated(prefix):
                _, page = self.conn().get_container(
                    self.container, marker=marker, limit=limit, prefix=prefix, delimiter=delimiter
                )
            yield from page
            if len(page) < limit:
                return
            last = page[-1]
            # After a rolled-up directory "a/b/", go on from "a/b0": past everything inside it.
            marker = last["subdir"][:-1] + "0" if "subdir" in last else last["name"]

    def list(self, path: str) -> list[str]:
        names = [e.get("subdir") or e["name"] for e in self.entries(self.keys.prefix(path), "/")]
        if not names and path != "/":
            raise PathNotFoundError(path)
        return sorted({self.keys.path(name) for name in names})

    def walk(self, path: str) -> Iterator[FileInfo]:
        yield from walk_files(path, nonempty(self._files(path), path, self.name))

    def _files(self, path: str) -> Iterator[FileInfo]:
        for entry in self.entries(self.keys.prefix(path)):
            child = self.keys.path(entry["name"])
            if int(entry["bytes"]) == 0:  # a DLO manifest lists as 0 bytes: ask for its size
                try:
                    yield self.stat(child)
                except PathNotFoundError:
                    pass  # deleted while walking
                continue
            yield FileInfo(child, int(entry["bytes"]), _listing_time(entry), False)

    # -- writes -----------------------------------------------------------------------

    def put_content(self, path: str, data: bytes) -> None:
        old_prefix = self.manifest_prefix(path)
        self.put_object(self.object_name(path), data)
        if old_prefix:
            self.delete_segments(old_prefix)

    def put_object(self, name: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        # Seekable, so that swiftclient may retry the upload; closed afterwards because the
        # connection keeps its last request, body included, until its next one. The MD5 is
        # taken as the body goes out and checked against Swift's ETag after: hashing it first
        # would hold every segment back by a full pass over it.
        with translated(name), io.BytesIO(data) as body:
            sent = LengthWrapper(body, len(data), md5=True)
            etag = self.conn().put_object(
                self.container,
                name,
                sent,
                content_length=len(data),
                content_type=CONTENT_TYPE,
                headers=headers,
            )
        if etag and etag != sent.get_md5sum():
            self.delete_names([name])
            raise StorageUnavailableError(f"{name}: stored content differs from what was sent")

    def put_manifest(self, path: str, prefix: str) -> None:
        manifest = {"X-Object-Manifest": f"{self.container}/{prefix}"}
        self.put_object(self.object_name(path), b"", manifest)

    def copy(self, name: str, dest_name: str) -> None:
        with translated(name):
            self.conn().copy_object(self.container, name, f"/{self.container}/{dest_name}")

    def segments(self, prefix: str) -> builtins.list[dict[str, Any]]:
        return list(self.entries(prefix + "/"))

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
        from registry.storage.swift.writer import open_writer

        return open_writer(self, path, append, size)

    def move(self, source: str, dest: str) -> None:
        manifest = self.head(source).get(MANIFEST)
        old_prefix = self.manifest_prefix(dest)
        new_prefix = manifest.split("/", 1)[1] if manifest else None
        if new_prefix:  # only the manifest moves; the segments stay where they are
            self.put_manifest(dest, new_prefix)
        else:
            self.copy(self.object_name(source), self.object_name(dest))
        self.delete_names([self.object_name(source)])
        if old_prefix and old_prefix != new_prefix:
            self.delete_segments(old_prefix)

    def delete(self, path: str) -> None:
        name = self.object_name(path)
        entries = list(self.entries(self.keys.prefix(path)))
        try:
            entries.insert(0, {"name": name, "bytes": int(self.head(path)["content-length"])})
        except PathNotFoundError:
            if not entries:
                raise
        # A DLO manifest lists as 0 bytes; only a HEAD tells where its segments are.
        maybe_manifests = [self.keys.path(e["name"]) for e in entries if not int(e["bytes"])]
        with ThreadPoolExecutor(max_workers=_HEAD_THREADS) as pool:
            prefixes = list(pool.map(self.manifest_prefix, maybe_manifests))
        # Manifests go first, so no reader sees a file whose segments are half gone.
        self.delete_names([e["name"] for e in entries])
        for prefix in prefixes:
            if prefix:
                self.delete_segments(prefix)

    def delete_segments(self, prefix: str, first: int = 1) -> None:
        names = [s["name"] for s in self.segments(prefix)]
        self.delete_names([n for n in names if int(n.rsplit("/", 1)[1]) >= first])

    def delete_names(self, names: builtins.list[str]) -> None:
        if self.session.bulk_delete_max > 0:
            for start in range(0, len(names), self.session.bulk_delete_max):
                self._bulk_delete(names[start : start + self.session.bulk_delete_max])
            return
        for name in names:
            try:
                with translated(name):
                    self.conn().delete_object(self.container, name)
            except PathNotFoundError:
                pass  # already gone: what we wanted

    def _bulk_delete(self, names: builtins.list[str]) -> None:
        body = "\n".join(quote(f"/{self.container}/{name}") for name in names).encode()
        with translated(names[0]):
            _, reply = self.conn().post_account(
                headers={"Accept": "application/json", "Content-Type": "text/plain"},
                query_string="bulk-delete",
                data=body,
            )
        result = _json(reply)
        status = str(result.get("Response Status", ""))
        errors = [e for e in result.get("Errors", []) if not str(e[1]).startswith("404")]
        if errors or not status.startswith(("200", "404")):
            raise StorageUnavailableError(f"bulk delete failed: {status} {errors[:3]}")

    # -- redirects and cleanup ----------------------------------------------------------

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        if not self.settings.redirect:
            return None
        storage_url, _ = self.session.setup()
        method = "GET" if method == "HEAD" else method  # a GET signature also allows HEAD
        if not self.session.tempurl_key or method not in self.session.tempurl_methods:
            return None
        parsed = urlparse(storage_url)
        seconds = int(parse_duration(self.settings.redirect_expiry).total_seconds())
        signed: str = generate_temp_url(
            f"{parsed.path}/{self.container}/{quote(self.object_name(path))}",
            seconds,
            self.session.tempurl_key,
            method,
            digest=self.session.tempurl_digest,
        )
        return f"{parsed.scheme}://{parsed.netloc}{signed}"

    def close(self) -> None:
        self.uploads.shutdown()
        self.session.close()


def _timestamp(headers: dict[str, str]) -> datetime:
    if "x-timestamp" in headers:
        return datetime.fromtimestamp(float(headers["x-timestamp"]), tz=UTC)
    return DIRECTORY_TIME


def _listing_time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["last_modified"]).replace(tzinfo=UTC)


def _json(body: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {"Response Status": "500 unparseable reply"}
    return parsed if isinstance(parsed, dict) else {}
