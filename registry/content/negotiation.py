"""Which manifest to serve for a client's accepted media types (Distribution's GET rules).

- No Accept header, or `*/*`: the manifest as stored. (Distribution treats a missing header
  as "Docker types only" and answers 404 for OCI content; curl and scripts deserve better.)
- The stored type is accepted: served as stored.
- A manifest list or OCI index fetched by tag by a client that accepts neither list type:
  the linux/amd64 entry is served instead, then negotiated like any manifest (Distribution
  does this for Docker manifest lists, which is what pre-list Docker clients need; we do
  it for OCI indexes too rather than answer 404). No linux/amd64 entry: MANIFEST_UNKNOWN.
- An OCI manifest or index the client does not accept: MANIFEST_UNKNOWN, with
  Distribution's messages.
- A Docker type the client does not accept: served as stored. Distribution 2.8 would
  rewrite schema 2 into a schema 1 manifest signed with its own key; we never rewrite
  what was pushed, and the clients that only speak schema 1 are long gone.
"""

from __future__ import annotations

import json

from registry.content import mediatypes as mt
from registry.content.manifest_cache import ManifestCache, StoredManifest
from registry.content.manifests import has_revision, load
from registry.content.names import is_digest, validate_digest
from registry.errors import ManifestUnknown
from registry.storage import StorageDriver

DEFAULT_PLATFORM = ("linux", "amd64")


def negotiate(
    driver: StorageDriver,
    name: str,
    manifest: StoredManifest,
    accepted: frozenset[str] | None,
    by_tag: bool,
    cache: ManifestCache | None = None,
) -> StoredManifest:
    """The manifest to answer with; `accepted` None means the client takes anything."""
    media_type = manifest.media_type
    if accepted is None or media_type in accepted:
        return manifest
    if media_type in mt.LIST_TYPES and by_tag and not accepted & mt.LIST_TYPES:
        child = load(driver, _default_platform_child(driver, name, manifest), cache)
        return negotiate(driver, name, child, accepted, False, cache)
    if media_type == mt.OCI_MANIFEST:
        raise ManifestUnknown(
            "OCI manifest found, but accept header does not support OCI manifests"
        )
    if media_type == mt.OCI_INDEX:
        raise ManifestUnknown("OCI index found, but accept header does not support OCI indexes")
    return manifest


def _default_platform_child(driver: StorageDriver, name: str, manifest: StoredManifest) -> str:
    document = json.loads(manifest.body)
    for entry in document.get("manifests") or []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(platform, dict):
            continue
        if (platform.get("os"), platform.get("architecture")) == DEFAULT_PLATFORM:
            digest = entry.get("digest")
            if not isinstance(digest, str) or not is_digest(digest):
                break
            if has_revision(driver, name, validate_digest(digest)):
                return digest
            break
    raise ManifestUnknown(
        "no linux/amd64 manifest in this list, and the client accepts no list types",
        detail={"digest": manifest.digest},
    )
