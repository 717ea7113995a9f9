"""Seed blobs straight into a registry's storage and build manifests for the /v2/ tests.

Blobs are written through the filesystem driver in Distribution's layout (data plus the
repository's `_layers` link), so manifest tests do not depend on the upload routes.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx

from registry import layout
from registry.content.links import link_blob
from registry.storage import StorageDriver, create_driver

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
EMPTY_CONFIG = b"{}"


def filesystem_driver(root: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(root)})


def unique_repo(prefix: str = "test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def add_blob(driver: StorageDriver, name: str, data: bytes, media_type: str) -> dict[str, Any]:
    """Store `data` as a blob linked into `name`; its descriptor."""
    digest = sha256(data)
    driver.put_content(layout.blob_data(digest), data)
    link_blob(driver, name, digest)
    return descriptor(media_type, data)


def image_manifest(
    driver: StorageDriver,
    name: str,
    media_type: str = OCI_MANIFEST,
    layers: int = 1,
    **fields: Any,
) -> dict[str, Any]:
    """An image manifest whose config and layers are seeded in `name` (random content)."""
    docker = media_type == DOCKER_MANIFEST
    config_type, layer_type = (DOCKER_CONFIG, DOCKER_LAYER) if docker else (OCI_CONFIG, OCI_LAYER)
    config = json.dumps({"architecture": "amd64", "os": "linux", "salt": os.urandom(8).hex()})
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": add_blob(driver, name, config.encode(), config_type),
        "layers": [add_blob(driver, name, os.urandom(64), layer_type) for _ in range(layers)],
    }
    document.update(fields)
    return document


def artifact_manifest(
    driver: StorageDriver,
    name: str,
    artifact_type: str,
    subject: dict[str, Any] | None,
    **fields: Any,
) -> dict[str, Any]:
    """An OCI artifact: empty config, one layer, an artifactType, maybe a subject."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": add_blob(driver, name, EMPTY_CONFIG, OCI_EMPTY),
        "layers": [add_blob(driver, name, os.urandom(32), "application/octet-stream")],
    }
    if subject is not None:
        document["subject"] = subject
    document.update(fields)
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()


def push(
    client: httpx.Client,
    name: str,
    reference: str,
    document: dict[str, Any] | bytes,
    content_type: str | None = None,
) -> httpx.Response:
    """PUT a manifest; the Content-Type defaults to the document's mediaType."""
    body = document if isinstance(document, bytes) else encode(document)
    if content_type is None and isinstance(document, dict):
        content_type = document.get("mediaType")
    headers = {"Content-Type": content_type} if content_type else {}
    return client.put(f"/v2/{name}/manifests/{reference}", content=body, headers=headers)


def push_ok(
    client: httpx.Client, name: str, reference: str, document: dict[str, Any] | bytes
) -> tuple[str, bytes]:
    """Push and insist on 201; the digest and the exact bytes pushed."""
    body = document if isinstance(document, bytes) else encode(document)
    response = push(client, name, reference, body, _media_type(document))
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"], body


def _media_type(document: dict[str, Any] | bytes) -> str | None:
    if isinstance(document, bytes):
        parsed = json.loads(document)
        return parsed.get("mediaType") if isinstance(parsed, dict) else None
    return document.get("mediaType")


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code
