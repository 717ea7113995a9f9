"""Parse and validate a pushed manifest: its type, its descriptors and what it references.

Structure only; whether the referenced blobs and manifests exist is checked by manifests.py.
Docker schema 1 is accepted as a structure (fsLayers, history) without checking signatures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from registry.content import mediatypes as mt
from registry.content.errors import DigestInvalid, ManifestInvalid
from registry.content.names import validate_digest


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[str, ...]  # must be linked in the repository (config, layers, fsLayers)
    children: tuple[Descriptor, ...]  # index entries: must be manifests of the repository
    subject: str | None
    artifact_type: str | None  # what the referrers API reports for this manifest
    annotations: dict[str, str] | None


def _invalid(reason: str) -> NoReturn:
    raise ManifestInvalid(f"manifest invalid: {reason}", detail=reason)


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Validate `body` pushed with `content_type`; raise MANIFEST_INVALID on any defect."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        _invalid(f"not valid JSON: {exc}")
    if not isinstance(document, dict):
        _invalid("a manifest must be a JSON object")
    media_type = _declared_type(content_type, document)
    if media_type in mt.SCHEMA1_TYPES:
        parsed = _schema1(document, media_type)
    elif media_type in mt.IMAGE_TYPES:
        parsed = _image(document, media_type)
    else:
        parsed = _index(document, media_type)
    if mt.stored_media_type(document) != parsed.media_type:
        _invalid("the manifest's fields do not identify it as " + parsed.media_type)
    return parsed


def _declared_type(content_type: str | None, document: dict[str, Any]) -> str:
    """Content-Type decides; a generic or absent one defers to the body's `mediaType`."""
    header = mt.base_type(content_type)
    field = document.get("mediaType")
    if field is not None and not isinstance(field, str):
        _invalid("mediaType must be a string")
    if header in mt.GENERIC_TYPES:
        header = ""
    elif header not in mt.MANIFEST_TYPES:
        _invalid(f"unsupported manifest media type {header!r}")
    if header and field and field != header and not {header, field} <= mt.SCHEMA1_TYPES:
        _invalid(f"Content-Type {header!r} does not match mediaType {field!r}")
    chosen = header or field or mt.stored_media_type(document)
    if chosen in mt.SCHEMA1_TYPES:
        # Signed or not is told by the body, as it will be when the manifest is served.
        return mt.DOCKER_SCHEMA1_SIGNED if "signatures" in document else mt.DOCKER_SCHEMA1
    if chosen not in mt.MANIFEST_TYPES:
        _invalid(f"unsupported manifest media type {chosen!r}")
    return chosen


def _schema1(document: dict[str, Any], media_type: str) -> ParsedManifest:
    if document.get("schemaVersion") != 1:
        _invalid("a schema 1 manifest needs schemaVersion 1")
    for key in ("name", "tag"):
        if not isinstance(document.get(key), str) or not document[key]:
            _invalid(f"schema 1 field {key!r} must be a non-empty string")
    layers, history = document.get("fsLayers"), document.get("history")
    if not isinstance(layers, list) or not layers:
        _invalid("fsLayers must be a non-empty array")
    if not isinstance(history, list) or len(history) != len(layers):
        _invalid("history must be an array as long as fsLayers")
    blobs = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            _invalid(f"fsLayers[{i}] must be an object")
        blobs.append(_digest(layer.get("blobSum"), f"fsLayers[{i}].blobSum"))
    return ParsedManifest(media_type, _unique(blobs), (), None, None, None)


def _image(document: dict[str, Any], media_type: str) -> ParsedManifest:
    _require_schema_version_2(document, media_type)
    if "manifests" in document:
        _invalid("an image manifest must not have 'manifests'")
    config = _descriptor(document.get("config"), "config")
    layers = _descriptor_list(document.get("layers"), "layers")
    # Foreign layers (with urls) are fetched elsewhere; Distribution does not require them.
    blobs = [config.digest, *(layer.digest for layer in layers if not layer.urls)]
    artifact_type = _optional_string(document, "artifactType") or config.media_type
    subject = _subject(document)
    return ParsedManifest(
        media_type, _unique(blobs), (), subject, artifact_type, _annotations(document, "")
    )


def _index(document: dict[str, Any], media_type: str) -> ParsedManifest:
    _require_schema_version_2(document, media_type)
    if "config" in document or "layers" in document:
        _invalid("an index must not have 'config' or 'layers'")
    children = _descriptor_list(document.get("manifests"), "manifests")
    artifact_type = _optional_string(document, "artifactType")
    subject = _subject(document)
    annotations = _annotations(document, "")
    return ParsedManifest(media_type, (), tuple(children), subject, artifact_type, annotations)


def _require_schema_version_2(document: dict[str, Any], media_type: str) -> None:
    version = document.get("schemaVersion")
    if type(version) is not int or version != 2:
        _invalid("schemaVersion must be 2")
    if media_type in (mt.DOCKER_SCHEMA2, mt.DOCKER_LIST) and document.get("mediaType") is None:
        # Docker's types are only told apart from OCI's by this field.
        _invalid(f"mediaType {media_type!r} is required in the body")


def _subject(document: dict[str, Any]) -> str | None:
    if document.get("subject") is None:
        return None
    return _descriptor(document["subject"], "subject").digest


def _descriptor_list(value: Any, where: str) -> list[Descriptor]:
    if not isinstance(value, list):
        _invalid(f"{where} must be an array")
    return [_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        _invalid(f"{where}.mediaType must be a non-empty string")
    size = value.get("size")
    if type(size) is not int or size < 0:
        _invalid(f"{where}.size must be a non-negative integer")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        _invalid(f"{where}.urls must be an array of strings")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        _invalid(f"{where}.platform must be an object")
    _optional_string(value, "artifactType", where)
    _annotations(value, where)
    digest = _digest(value.get("digest"), f"{where}.digest")
    return Descriptor(media_type, digest, size, tuple(urls), platform)


def _digest(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _invalid(f"{where} must be a digest string")
    try:
        return validate_digest(value)
    except DigestInvalid as exc:
        _invalid(f"{where}: {exc.message}")


def _optional_string(document: dict[str, Any], key: str, where: str = "") -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        _invalid(f"{where + '.' if where else ''}{key} must be a string")
    return value or None


def _annotations(document: dict[str, Any], where: str) -> dict[str, str] | None:
    value = document.get("annotations")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        _invalid(f"{where + '.' if where else ''}annotations must map strings to strings")
    return value


def _unique(digests: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(digests))
