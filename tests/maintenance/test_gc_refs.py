"""Reading what a manifest references, for every kind Distribution stores."""

from __future__ import annotations

import hashlib
import json

import pytest

from registry.maintenance.digestset import digest_key
from registry.maintenance.gc.refs import ManifestUnreadable, parse_refs


def _digest(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def _key(label: str) -> bytes:
    key = digest_key(_digest(label))
    assert key is not None
    return key


def test_image_manifest_references_config_and_layers_and_its_subject() -> None:
    document = {
        "config": {"digest": _digest("config")},
        "layers": [{"digest": _digest("l1")}, {"digest": _digest("l2")}],
        "subject": {"digest": _digest("subject")},
    }

    refs = parse_refs(json.dumps(document).encode())

    assert refs.blobs == (_key("config"), _key("l1"), _key("l2"))
    assert refs.children == () and refs.subject == _key("subject")


def test_index_references_its_children() -> None:
    document = {"manifests": [{"digest": _digest("amd64")}, {"digest": _digest("arm64")}]}

    refs = parse_refs(json.dumps(document).encode())

    assert refs.children == (_key("amd64"), _key("arm64")) and refs.blobs == ()


def test_schema1_and_artifact_manifests_reference_their_blobs() -> None:
    schema1 = {"schemaVersion": 1, "fsLayers": [{"blobSum": _digest("s1")}]}
    artifact = {"blobs": [{"digest": _digest("file")}]}

    assert parse_refs(json.dumps(schema1).encode()).blobs == (_key("s1"),)
    assert parse_refs(json.dumps(artifact).encode()).blobs == (_key("file"),)


def test_malformed_descriptors_reference_nothing() -> None:
    document = {"config": "oops", "layers": [{"digest": "sha256:zz"}, 7], "manifests": {}}

    refs = parse_refs(json.dumps(document).encode())

    assert refs.blobs == () and refs.children == () and refs.subject is None


@pytest.mark.parametrize("data", [b"\x00\x01", b"[1, 2]", b'"text"'])
def test_non_object_content_is_unreadable(data: bytes) -> None:
    with pytest.raises(ManifestUnreadable):
        parse_refs(data)
