"""The Swift container as the driver and its reader and writer use it: the session, object and
segment names, listings, uploads, DLO manifests and bulk deletes."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Unpack
from urllib.parse import quote

from swiftclient.client import Connection
from swiftclient.utils import LengthWrapper

from registry.config.drivers import SwiftSettings
from registry.storage.cloud import KeySpace
from registry.storage.driver import PathNotFoundError, StorageDriver, StorageUnavailableError
from registry.storage.swift.session import SessionOptions, SwiftSession, translated

CONTENT_TYPE = "application/octet-stream"
MANIFEST = "x-object-manifest"
PAGE = 10000  # Swift's largest listing page
RACE_RETRY_SECONDS = 0.05
HEAD_THREADS = 8
UPLOAD_THREADS = 16  # segment uploads, shared by every writer of a driver


class SwiftContainer(StorageDriver):
    """The connection to one container; SwiftDriver adds the file operations."""

    name = "swift"
    # How long a fresh manifest may take to show all its segments on an eventually consistent
    # cluster before commit gives up.
    consistency_wait = 15.0
    page_size = PAGE

    def __init__(self, settings: SwiftSettings, **session: Unpack[SessionOptions]) -> None:
        self.settings = settings
        self.container = settings.container
        self.chunksize = settings.chunksize
        self.session = SwiftSession(settings, **session)
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

    def close(self) -> None:
        self.uploads.shutdown()
        self.session.close()


def _json(body: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {"Response Status": "500 unparseable reply"}
    return parsed if isinstance(parsed, dict) else {}
