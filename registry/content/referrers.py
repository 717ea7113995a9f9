"""Our referrers index: one file per (subject, referrer) under /hth/v1/referrers.

`<referrers_dir(name, subject)>/<alg>/<hex>` holds the JSON descriptor the referrers API
returns for that referrer (mediaType, digest, size, artifactType, annotations), written when
a manifest with a `subject` is pushed and removed when it is deleted. Distribution's tools
never look there.
"""

from __future__ import annotations

import json
from typing import Any

from registry import layout
from registry.content.links import read_link
from registry.storage import PathNotFoundError, StorageDriver


def referrer_descriptor(
    media_type: str,
    digest: str,
    size: int,
    artifact_type: str | None,
    annotations: dict[str, str] | None,
) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if artifact_type:
        descriptor["artifactType"] = artifact_type
    if annotations is not None:
        descriptor["annotations"] = annotations
    return descriptor


def add_referrer(
    driver: StorageDriver, name: str, subject: str, descriptor: dict[str, Any]
) -> None:
    path = layout.referrer_link(name, subject, descriptor["digest"])
    driver.put_content(path, json.dumps(descriptor, sort_keys=True).encode())


def remove_referrer(driver: StorageDriver, name: str, subject: str, digest: str) -> None:
    try:
        driver.delete(layout.referrer_link(name, subject, digest))
    except PathNotFoundError:
        pass  # already gone: deleting is idempotent


def referrer_digests(driver: StorageDriver, name: str, subject: str) -> list[str]:
    """Digests of the manifests recorded as referring to `subject` (for GC and listings)."""
    root = layout.referrers_dir(name, subject)
    digests: list[str] = []
    for algorithm_dir in _list(driver, root):
        algorithm = algorithm_dir.rsplit("/", 1)[1]
        digests.extend(f"{algorithm}:{p.rsplit('/', 1)[1]}" for p in _list(driver, algorithm_dir))
    return digests


def list_referrers(
    driver: StorageDriver, name: str, subject: str, artifact_type: str | None = None
) -> list[dict[str, Any]]:
    """Descriptors of the manifests of `name` whose subject is `subject`, by digest.

    Entries whose manifest revision is gone (deleted by another tool) are left out.
    """
    found = []
    for digest in referrer_digests(driver, name, subject):
        descriptor = _read_descriptor(driver, layout.referrer_link(name, subject, digest))
        if descriptor is None or descriptor.get("digest") != digest:
            continue
        if artifact_type is not None and descriptor.get("artifactType") != artifact_type:
            continue
        if read_link(driver, layout.revision_link(name, digest)) != digest:
            continue
        found.append(descriptor)
    return found


def _read_descriptor(driver: StorageDriver, path: str) -> dict[str, Any] | None:
    try:
        document = json.loads(driver.get_content(path))
    except (PathNotFoundError, ValueError):
        return None  # not a file (a nested repository's directory) or unreadable
    return document if isinstance(document, dict) else None


def _list(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFoundError:
        return []
