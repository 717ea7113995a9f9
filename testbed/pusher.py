"""A minimal registry client over HTTP: push small random images, pull and verify them."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Refused(Exception):
    """The registry answered 503 (maintenance): the whole push is retried later."""


@dataclass(frozen=True)
class PushedImage:
    name: str
    tag: str
    manifest_digest: str
    blobs: dict[str, bytes]


def _check(response: httpx.Response, *ok: int) -> httpx.Response:
    if response.status_code == 503:
        raise Refused(response.text)
    if response.status_code not in ok:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text}"
        )
    return response


def push_image(
    http: httpx.Client, name: str, tag: str, layer_size: int = 4096, layer: bytes | None = None
) -> PushedImage:
    """Push config + one layer + manifest as docker does: skip blobs that already exist.
    The layer is random unless given (the same layer and tag push the same manifest)."""
    layer = os.urandom(layer_size) if layer is None else layer
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    blobs = {digest_of(layer): layer, digest_of(config): config}
    for digest, data in blobs.items():
        if _check(http.head(f"/v2/{name}/blobs/{digest}"), 200, 404).status_code == 200:
            continue
        _check(
            http.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data), 201
        )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    headers = {"Content-Type": OCI_MANIFEST}
    _check(http.put(f"/v2/{name}/manifests/{tag}", content=manifest, headers=headers), 201)
    return PushedImage(name, tag, digest_of(manifest), blobs)


def pull_image(http: httpx.Client, image: PushedImage) -> None:
    """Pull by tag; every byte must be what was pushed (raises AssertionError otherwise)."""
    headers = {"Accept": OCI_MANIFEST}
    manifest = _check(http.get(f"/v2/{image.name}/manifests/{image.tag}", headers=headers), 200)
    assert digest_of(manifest.content) == image.manifest_digest, f"{image}: manifest differs"
    for digest in image.blobs:
        blob = _check(http.get(f"/v2/{image.name}/blobs/{digest}"), 200)
        assert digest_of(blob.content) == digest, f"{image.name}: blob {digest} differs"
