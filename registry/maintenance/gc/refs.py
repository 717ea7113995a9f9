"""What a manifest references, read leniently from its JSON: the edges GC marks along."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from registry.maintenance.digestset import digest_key, key_digest


class ManifestUnreadable(Exception):
    """The manifest is not a JSON object: what it references cannot be known."""


@dataclass(frozen=True, slots=True)
class ManifestRefs:
    blobs: tuple[bytes, ...]  # config, layers, artifact blobs, schema 1 fsLayers
    children: tuple[bytes, ...]  # manifests of an index / manifest list
    subject: bytes | None  # the manifest this one refers to (OCI referrers)


def _descriptor_key(value: Any, field: str = "digest") -> bytes | None:
    if isinstance(value, dict) and isinstance(value.get(field), str):
        return digest_key(value[field])
    return None


def _keys(values: Any, field: str = "digest") -> list[bytes]:
    if not isinstance(values, list):
        return []
    keys = (_descriptor_key(v, field) for v in values)
    return [k for k in keys if k is not None]


def check_digest(key: bytes, data: bytes) -> None:
    """ManifestUnreadable unless `data` hashes to the digest `key` (a corrupt manifest's
    references could name the wrong blobs, and GC would delete what the real one uses)."""
    algorithm = key_digest(key).partition(":")[0]
    actual = hashlib.new(algorithm, data).digest()
    if actual != key:
        raise ManifestUnreadable(
            f"its content hashes to {algorithm}:{actual.hex()} ({len(data)} bytes)"
        )


def parse_refs(data: bytes) -> ManifestRefs:
    """References of any manifest kind Distribution stores (schema 1 and 2, OCI, artifacts).

    Unknown fields are ignored; a descriptor with a malformed digest references nothing.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestUnreadable(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ManifestUnreadable("not a JSON object")
    blobs: list[bytes] = []
    config = _descriptor_key(document.get("config"))
    if config is not None:
        blobs.append(config)
    blobs += _keys(document.get("layers"))
    blobs += _keys(document.get("blobs"))  # OCI artifact manifest (image-spec 1.1 rc)
    blobs += _keys(document.get("fsLayers"), "blobSum")  # Docker schema 1
    children = tuple(_keys(document.get("manifests")))
    return ManifestRefs(tuple(blobs), children, _descriptor_key(document.get("subject")))
