"""Manifest bodies at the edges: nesting depth, descriptor sizes, field types, encodings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.content import manifests
from registry.content.bounded_json import MAX_DEPTH, JSONTooDeep, exceeds_depth, loads
from registry.content.descriptors import MAX_SIZE
from registry.content.links import write_link
from registry.content.manifest_format import parse_manifest
from registry.errors import ManifestInvalid, ManifestUnknown
from tests.support.registry_content import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    filesystem_driver,
    sha256,
)

DIGEST = "sha256:" + "a" * 64


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def manifest(**layer: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": DIGEST, "size": 2},
        "layers": [{"mediaType": OCI_LAYER, "digest": DIGEST, "size": 10, **layer}],
    }


def index(**entry: Any) -> dict[str, Any]:
    child = {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 10, **entry}
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}


def refusal(body: bytes, content_type: str | None = OCI_MANIFEST) -> str:
    with pytest.raises(ManifestInvalid) as caught:
        parse_manifest(body, content_type)
    assert caught.value.status == 400
    return caught.value.message


# --- nesting -----------------------------------------------------------------------------


def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused() -> None:
    assert not exceeds_depth(nested(MAX_DEPTH))
    assert exceeds_depth(nested(MAX_DEPTH + 1))
    assert loads(nested(MAX_DEPTH)) is not None
    with pytest.raises(JSONTooDeep):
        loads(nested(MAX_DEPTH + 1))


def test_objects_and_arrays_count_alike() -> None:
    body = b'{"a":' * 40 + b"[" * 30 + b"1" + b"]" * 30 + b"}" * 40
    assert exceeds_depth(body)
    assert not exceeds_depth(b'{"a":' * 40 + b"[" * 24 + b"]" * 24 + b"}" * 40)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["[" * 500, "{" * 500, '\\"[[[' * 100, {"k[[[": "]]]}"}]).encode()
    assert not exceeds_depth(text)
    assert loads(text)[0] == "[" * 500


def test_closing_brackets_inside_strings_do_not_hide_depth() -> None:
    body = b"[" * 40 + b'"' + b"]" * 40 + b'"' + b"," + nested(30) + b"]" * 40
    assert exceeds_depth(body)


def test_unclosed_brackets_count_as_open() -> None:
    assert exceeds_depth(b"[" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [1_000, 100_000, 2_000_000])
def test_deep_manifests_are_manifest_invalid_quickly(depth: int) -> None:
    started = time.monotonic()
    message = refusal(nested(depth))
    assert "nest deeper than 64" in message
    assert time.monotonic() - started < 10  # bounded work, no recursion


def test_deep_objects_inside_a_real_manifest_are_refused() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH):
        deep = {"k": deep}
    body = json.dumps(manifest(platform=deep)).encode()
    assert "nest deeper" in refusal(body)


# --- sizes and field types ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MAX_SIZE])
def test_sizes_within_int64_are_accepted(size: int) -> None:
    parsed = parse_manifest(json.dumps(manifest(size=size)).encode(), OCI_MANIFEST)
    assert parsed.blobs == (DIGEST,)


@pytest.mark.parametrize("size", [-1, MAX_SIZE + 1, 10**30, 1.0, 1e3, "10", True, None])
def test_sizes_outside_int64_or_of_other_types_are_refused(size: Any) -> None:
    assert "size must be an integer from 0 to 2^63-1" in refusal(
        json.dumps(manifest(size=size)).encode()
    )


def test_a_size_of_thousands_of_digits_is_refused_not_crashed() -> None:
    body = json.dumps(manifest()).encode().replace(b'"size": 10', b'"size": ' + b"9" * 5000)
    assert "not valid JSON" in refusal(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("urls", 0),
        ("urls", ""),
        ("urls", False),
        ("urls", {}),
        ("urls", [1]),
        ("annotations", []),
        ("annotations", "x"),
        ("annotations", {"a": 1}),
        ("annotations", {"a": None}),
        ("annotations", {"a": {"b": "c"}}),
        ("artifactType", 5),
        ("data", ["AA=="]),
        ("mediaType", ""),
        ("mediaType", None),
        ("digest", 5),
    ],
)
def test_descriptor_fields_of_absurd_types_are_refused(field: str, value: Any) -> None:
    refusal(json.dumps(manifest(**{field: value})).encode())


@pytest.mark.parametrize(
    "platform",
    [
        [],
        "linux/amd64",
        {"architecture": 1, "os": "linux"},
        {"architecture": "amd64", "os": ["linux"]},
        {"architecture": "amd64", "os": "linux", "os.version": 10},
        {"architecture": "amd64", "os": "linux", "os.features": "win32k"},
        {"architecture": "amd64", "os": "linux", "features": [1]},
        {"architecture": "arm", "os": "linux", "variant": {"v": 7}},
    ],
)
def test_index_platforms_of_absurd_types_are_refused(platform: Any) -> None:
    refusal(json.dumps(index(platform=platform)).encode(), OCI_INDEX)


def test_a_well_typed_platform_is_accepted() -> None:
    platform = {"architecture": "arm64", "os": "linux", "variant": "v8", "os.features": []}
    parsed = parse_manifest(json.dumps(index(platform=platform)).encode(), OCI_INDEX)
    assert parsed.children[0].platform == platform


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("config", []),
        ("config", None),
        ("layers", {}),
        ("layers", [None]),
        ("layers", [[{"mediaType": OCI_LAYER, "digest": DIGEST, "size": 1}]]),
        ("subject", "sha256:" + "b" * 64),
        ("subject", []),
        ("annotations", ["a"]),
        ("artifactType", {}),
    ],
)
def test_manifest_fields_that_hold_descriptors_must_hold_descriptors(key: str, value: Any) -> None:
    document = manifest()
    document[key] = value
    refusal(json.dumps(document).encode())


@pytest.mark.parametrize("manifests", [None, {}, [1], [[]], ["sha256:" + "a" * 64]])
def test_index_manifests_must_be_an_array_of_descriptors(manifests: Any) -> None:
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    refusal(json.dumps(document).encode(), OCI_INDEX)


def test_oci_artifact_manifests_with_blobs_are_not_a_manifest_type() -> None:
    # The image-spec 1.1 release candidates' artifact manifest was dropped; nothing reads it.
    artifact = "application/vnd.oci.artifact.manifest.v1+json"
    document = {"mediaType": artifact, "blobs": [{"mediaType": OCI_LAYER, "size": -1}]}
    assert "unsupported manifest media type" in refusal(json.dumps(document).encode(), artifact)
    assert "unsupported manifest media type" in refusal(json.dumps(document).encode(), None)


def test_schema1_history_entries_must_carry_v1_compatibility_strings() -> None:
    document = {
        "schemaVersion": 1,
        "name": "a",
        "tag": "b",
        "fsLayers": [{"blobSum": DIGEST}],
        "history": [{"v1Compatibility": 5}],
    }
    refusal(json.dumps(document).encode(), None)
    document["history"] = [{"v1Compatibility": "{}"}]
    assert parse_manifest(json.dumps(document).encode(), None).blobs == (DIGEST,)


# --- encodings and non-JSON ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_manifests_in_other_encodings_than_utf8_are_refused(encoding: str) -> None:
    # ASCII in UTF-16-LE is valid UTF-8 (with NULs in between): then it is not JSON.
    assert refusal(json.dumps(manifest()).encode(encoding)).startswith(
        ("manifest invalid: not UTF-8", "manifest invalid: not valid JSON")
    )


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_constants_are_refused(constant: bytes) -> None:
    body = json.dumps(manifest()).encode().replace(b'"size": 10', b'"size": ' + constant)
    assert "is not JSON" in refusal(body)


def test_lone_surrogate_escapes_in_annotations_are_kept_as_pushed() -> None:
    body = json.dumps(manifest(annotations={"a": "\ud800"})).encode()
    assert parse_manifest(body, OCI_MANIFEST).blobs == (DIGEST,)


def test_a_deep_manifest_stored_by_another_tool_is_a_registry_error_not_a_crash(
    tmp_path: Path,
) -> None:
    driver = filesystem_driver(tmp_path)
    body = b'{"schemaVersion": 2, "x": ' + nested(5_000) + b"}"
    digest = sha256(body)
    driver.put_content(layout.blob_data(digest), body)
    write_link(driver, layout.revision_link("team/app", digest), digest)
    with pytest.raises(ManifestUnknown, match="cannot read"):
        manifests.load(driver, digest)
    manifests.delete_manifest(driver, "team/app", digest)  # and it can still be deleted
