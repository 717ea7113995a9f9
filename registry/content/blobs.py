"""Blobs as a repository sees them: present only when linked into it (`_layers/.../link`)."""

from __future__ import annotations

from typing import BinaryIO

from registry import layout
from registry.content.gc_guard import NO_GUARD, GCGuard, repository_key
from registry.content.links import linked_blob_size, read_link
from registry.content.names import validate_digest
from registry.errors import BlobUnknown
from registry.storage import PathNotFoundError, StorageDriver


def _unknown(name: str, digest: str) -> BlobUnknown:
    return BlobUnknown(f"blob {digest} unknown to repository {name}", detail={"digest": digest})


def stat_blob(driver: StorageDriver, name: str, digest: str, guard: GCGuard = NO_GUARD) -> int:
    """Size of blob `digest` in repository `name`, else BLOB_UNKNOWN. With an online GC
    running, a blob this answers is kept by it, and its link with the repository's files
    (the client may rely on "exists" in a manifest it pushes next)."""
    validate_digest(digest)
    guard.protect([digest, repository_key(name)], strict=False)
    size = linked_blob_size(driver, name, digest)
    if size is None:
        raise _unknown(name, digest)
    return size


def open_blob(driver: StorageDriver, digest: str, offset: int = 0) -> BinaryIO:
    """A reader of the blob's data from `offset` (the blob was checked with stat_blob)."""
    try:
        return driver.reader(layout.blob_data(digest), offset)
    except PathNotFoundError:
        raise BlobUnknown(detail={"digest": digest}) from None


def locate_blob(
    driver: StorageDriver, name: str, digest: str, guard: GCGuard = NO_GUARD
) -> tuple[int, str | None]:
    """The blob's size and a URL the client may fetch it from itself (cloud storage), or
    None there when the registry serves it."""
    size = stat_blob(driver, name, digest, guard)
    return size, driver.redirect_url(layout.blob_data(digest), "GET")


def unlink_blob(driver: StorageDriver, name: str, digest: str) -> None:
    """Remove the blob from repository `name`; its data stays until garbage collection."""
    validate_digest(digest)
    if read_link(driver, layout.layer_link(name, digest)) != digest:
        raise _unknown(name, digest)
    link_dir = layout.layer_link(name, digest).rpartition("/")[0]
    try:
        driver.delete(link_dir)
    except PathNotFoundError:
        raise _unknown(name, digest) from None
