"""Manifest media types the registry understands, and how a stored manifest's type is told."""

from __future__ import annotations

from typing import Any

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
IMAGE_TYPES = frozenset({DOCKER_SCHEMA2, OCI_MANIFEST})
LIST_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
OCI_TYPES = frozenset({OCI_MANIFEST, OCI_INDEX})
MANIFEST_TYPES = SCHEMA1_TYPES | IMAGE_TYPES | LIST_TYPES

# Content-Types that say nothing about the manifest: the body's own fields decide.
GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})


def base_type(content_type: str | None) -> str:
    """The media type without parameters, lower-cased ('' when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def stored_media_type(document: dict[str, Any]) -> str:
    """The type a manifest is served as, from its own fields (as Distribution does on GET).

    Schema 1 is served as signed JWS when it carries signatures; OCI documents may omit
    `mediaType`, in which case a `manifests` array makes an index (Distribution's rule).
    """
    if document.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1_SIGNED if "signatures" in document else DOCKER_SCHEMA1
    media_type = document.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST
