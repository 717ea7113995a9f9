"""OpenStack Swift driver laid out as Distribution's: files under `files/`, DLO segments under
`segments/`, so a container written by either registry reads in the other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote, urlparse

from swiftclient.utils import generate_temp_url

from registry.storage.chunked import READ_CHUNK, chunk_reader, empty_reader
from registry.storage.cloud import DIRECTORY_TIME, directory, nonempty, walk_files
from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    PathNotFoundError,
    StorageError,
)
from registry.storage.swift.container import (
    HEAD_THREADS,
    MANIFEST,
    RACE_RETRY_SECONDS,
    SwiftContainer,
)
from registry.storage.swift.reader import segments_reader
from registry.storage.swift.session import http_status, translated
from registry.storage.swift.writer import open_writer


class SwiftDriver(SwiftContainer):
    # -- reads ------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        try:
            return self._get(path)
        except PathNotFoundError:
            # A GET racing two PUTs of the same object can see neither for an instant (the
            # object server swaps its .data files): ask once more before calling it missing.
            time.sleep(RACE_RETRY_SECONDS)
            return self._get(path)

    def _get(self, path: str) -> bytes:
        with translated(path):
            _, body = self.conn().get_object(self.container, self.object_name(path))
        return bytes(body)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        prefix = self.manifest_prefix(path)
        if prefix is not None:  # segments read directly: see reader.py
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

    def list(self, path: str) -> list[str]:
        entries = self.entries(self.keys.prefix(path), "/")
        return self.keys.listed(path, [e.get("subdir") or e["name"] for e in entries])

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

    def writer(self, path: str, append: bool = False, *, size: int | None = None) -> FileWriter:
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
        with ThreadPoolExecutor(max_workers=HEAD_THREADS) as pool:
            prefixes = list(pool.map(self.manifest_prefix, maybe_manifests))
        # Manifests go first, so no reader sees a file whose segments are half gone.
        self.delete_names([e["name"] for e in entries])
        for prefix in prefixes:
            if prefix:
                self.delete_segments(prefix)

    # -- redirects and cleanup ----------------------------------------------------------

    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        if not self.settings.redirect:
            return None
        storage_url, _ = self.session.setup()
        method = "GET" if method == "HEAD" else method  # a GET signature also allows HEAD
        if not self.session.tempurl_key or method not in self.session.tempurl_methods:
            return None
        parsed = urlparse(storage_url)
        seconds = int(self.settings.redirect_expiry.total_seconds())
        signed: str = generate_temp_url(
            f"{parsed.path}/{self.container}/{quote(self.object_name(path))}",
            seconds,
            self.session.tempurl_key,
            method,
            digest=self.session.tempurl_digest,
        )
        return f"{parsed.scheme}://{parsed.netloc}{signed}"


def _timestamp(headers: dict[str, str]) -> datetime:
    if "x-timestamp" in headers:
        return datetime.fromtimestamp(float(headers["x-timestamp"]), tz=UTC)
    return DIRECTORY_TIME


def _listing_time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["last_modified"]).replace(tzinfo=UTC)
