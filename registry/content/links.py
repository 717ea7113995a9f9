"""Link files and blob presence: the small primitives blobs, uploads and manifests share."""

from __future__ import annotations

import logging

from registry import layout
from registry.content.names import validate_digest
from registry.errors import DigestInvalid
from registry.storage import PathNotFoundError, StorageDriver

log = logging.getLogger("hth.content")


def read_link(driver: StorageDriver, path: str) -> str | None:
    """The digest a link file holds, or None when there is no such link (or it is corrupt)."""
    try:
        digest = driver.get_content(path).decode("ascii", errors="replace").strip()
    except PathNotFoundError:
        return None
    try:
        return validate_digest(digest)
    except DigestInvalid:
        # A torn or hand-edited link must not turn reads into client errors.
        log.warning("ignoring corrupt link file %s", path)
        return None


def write_link(driver: StorageDriver, path: str, digest: str) -> None:
    driver.put_content(path, digest.encode("ascii"))


def blob_size(driver: StorageDriver, digest: str) -> int | None:
    """Size of the blob in the global store, or None when it is absent."""
    try:
        return driver.stat(layout.blob_data(digest)).size
    except PathNotFoundError:
        return None


def linked_blob_size(driver: StorageDriver, name: str, digest: str) -> int | None:
    """Size of a blob that is linked into repository `name`, else None."""
    if read_link(driver, layout.layer_link(name, digest)) != digest:
        return None
    return blob_size(driver, digest)


def link_blob(driver: StorageDriver, name: str, digest: str) -> None:
    write_link(driver, layout.layer_link(name, digest), digest)
