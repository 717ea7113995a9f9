"""Parse and validate a pushed manifest: its type, its descriptors and what it references.

Structure only; whether the referenced blobs and manifests exist is checked by manifests.py.
Docker schema 1 is accepted as a structure (fsLayers, history) without checking signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.content import bounded_json
from registry.content import mediatypes as mt
from registry.content.descriptors import (
    Descriptor,
    annotation_map,
    descriptor,
    descriptor_list,
    digest_field,
    invalid,
    optional_string,
)


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[str, ...]  # must be linked in the repository (config, layers, fsLayers)
    children: tuple[Descriptor, ...]  # index entries: must be manifests of the repository
    subject: str | None
    artifact_type: str | None  # what the referrers API reports for this manifest
    annotations: dict[str, str] | None


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Validate `body` pushed with `content_type`; raise MANIFEST_INVALID on any defect."""
    try:
        document = bounded_json.loads(body)
    except bounded_json.JSONTooDeep as exc:
        invalid(str(exc))
    except UnicodeDecodeError:
        invalid("not UTF-8")
    except ValueError as exc:
        invalid(f"not valid JSON: {exc}")
    if not isinstance(document, dict):
        invalid("a manifest must be a JSON object")
    media_type = _declared_type(content_type, document)
    if media_type in mt.SCHEMA1_TYPES:
        parsed = _schema1(document, media_type)
    elif media_type in mt.IMAGE_TYPES:
        parsed = _image(document, media_type)
    else:
        parsed = _index(document, media_type)
    if mt.stored_media_type(document) != parsed.media_type:
        invalid("the manifest's fields do not identify it as " + parsed.media_type)
    return parsed


def _declared_type(content_type: str | None, document: dict[str, Any]) -> str:
    """Content-Type decides; a generic or absent one defers to the body's `mediaType`."""
    header = mt.base_type(content_type)
    field = document.get("mediaType")
    if field is not None and not isinstance(field, str):
        invalid("mediaType must be a string")
    if header in mt.GENERIC_TYPES:
        header = ""
    elif header not in mt.MANIFEST_TYPES:
        invalid(f"unsupported manifest media type {header!r}")
    if header and field and field != header and not {header, field} <= mt.SCHEMA1_TYPES:
        invalid(f"Content-Type {header!r} does not match mediaType {field!r}")
    chosen = header or field or mt.stored_media_type(document)
    if chosen in mt.SCHEMA1_TYPES:
        # Signed or not is told by the body, as it will be when the manifest is served.
        return mt.DOCKER_SCHEMA1_SIGNED if "signatures" in document else mt.DOCKER_SCHEMA1
    if chosen not in mt.MANIFEST_TYPES:
        invalid(f"unsupported manifest media type {chosen!r}")
    return chosen


def _schema1(document: dict[str, Any], media_type: str) -> ParsedManifest:
    if document.get("schemaVersion") != 1:
        invalid("a schema 1 manifest needs schemaVersion 1")
    for key in ("name", "tag"):
        if not isinstance(document.get(key), str) or not document[key]:
            invalid(f"schema 1 field {key!r} must be a non-empty string")
    layers, history = document.get("fsLayers"), document.get("history")
    if not isinstance(layers, list) or not layers:
        invalid("fsLayers must be a non-empty array")
    if not isinstance(history, list) or len(history) != len(layers):
        invalid("history must be an array as long as fsLayers")
    optional_string(document, "architecture")
    if not isinstance(document.get("signatures", []), list):
        invalid("signatures must be an array")
    blobs = []
    for i, (layer, entry) in enumerate(zip(layers, history, strict=True)):
        if not isinstance(layer, dict):
            invalid(f"fsLayers[{i}] must be an object")
        if not isinstance(entry, dict) or not isinstance(entry.get("v1Compatibility"), str):
            invalid(f"history[{i}].v1Compatibility must be a string")
        blobs.append(digest_field(layer.get("blobSum"), f"fsLayers[{i}].blobSum"))
    return ParsedManifest(media_type, _unique(blobs), (), None, None, None)


def _image(document: dict[str, Any], media_type: str) -> ParsedManifest:
    _require_schema_version_2(document, media_type)
    if "manifests" in document:
        invalid("an image manifest must not have 'manifests'")
    config = descriptor(document.get("config"), "config")
    layers = descriptor_list(document.get("layers"), "layers")
    # Foreign layers (with urls) are fetched elsewhere; Distribution does not require them.
    blobs = [config.digest, *(layer.digest for layer in layers if not layer.urls)]
    artifact_type = optional_string(document, "artifactType") or config.media_type
    subject = _subject(document)
    return ParsedManifest(
        media_type, _unique(blobs), (), subject, artifact_type, annotation_map(document, "")
    )


def _index(document: dict[str, Any], media_type: str) -> ParsedManifest:
    _require_schema_version_2(document, media_type)
    if "config" in document or "layers" in document:
        invalid("an index must not have 'config' or 'layers'")
    children = descriptor_list(document.get("manifests"), "manifests")
    artifact_type = optional_string(document, "artifactType")
    subject = _subject(document)
    notes = annotation_map(document, "")
    return ParsedManifest(media_type, (), tuple(children), subject, artifact_type, notes)


def _require_schema_version_2(document: dict[str, Any], media_type: str) -> None:
    version = document.get("schemaVersion")
    if type(version) is not int or version != 2:
        invalid("schemaVersion must be 2")
    if media_type in (mt.DOCKER_SCHEMA2, mt.DOCKER_LIST) and document.get("mediaType") is None:
        # Docker's types are only told apart from OCI's by this field.
        invalid(f"mediaType {media_type!r} is required in the body")


def _subject(document: dict[str, Any]) -> str | None:
    if document.get("subject") is None:
        return None
    return descriptor(document["subject"], "subject").digest


def _unique(digests: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(digests))
