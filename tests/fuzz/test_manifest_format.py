"""Manifest parsing under fuzzing: bytes, JSON of any shape and mutated real manifests are
either parsed (into digests that are valid) or refused with MANIFEST_INVALID/DIGEST_INVALID,
never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.content import mediatypes as mt
from registry.content.errors import DigestInvalid, ManifestInvalid
from registry.content.manifest_format import parse_manifest
from registry.content.names import validate_digest
from tests.fuzz.counting import count

DIGEST = "sha256:" + "a" * 64
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(sorted(mt.IMAGE_TYPES | mt.SCHEMA1_TYPES) + [mt.OCI_INDEX, "text/plain", ""]),
    st.text(max_size=30),
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _descriptor(media_type: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": DIGEST, "size": 10}


BASE_MANIFEST: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "config": _descriptor("application/vnd.oci.image.config.v1+json"),
    "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar+gzip")],
}
KEYS = ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject",
        "artifactType", "annotations", "digest", "size", "urls", "platform"]  # fmt: skip


@st.composite
def mutated_manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest with a few fields (at any depth) replaced by arbitrary values."""
    document = json.loads(json.dumps(BASE_MANIFEST))
    targets = [document, document["config"], document["layers"][0]]
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(targets))
        target[draw(st.sampled_from(KEYS))] = draw(json_values)
    return document


def _check(body: bytes, content_type: str | None) -> None:
    try:
        parsed = parse_manifest(body, content_type)
    except (ManifestInvalid, DigestInvalid) as exc:
        assert exc.status == 400
        json.dumps(exc.body())  # the error body is always serialisable
        return
    for digest in (*parsed.blobs, *(c.digest for c in parsed.children)):
        assert validate_digest(digest) == digest
    if parsed.subject is not None:
        validate_digest(parsed.subject)


@settings(settings.get_profile("fuzz"))
@given(st.binary(max_size=300), CONTENT_TYPES)
def test_arbitrary_bytes_never_crash_the_parser(body: bytes, content_type: str | None) -> None:
    count("manifests")
    _check(body, content_type)


@settings(settings.get_profile("fuzz"))
@given(json_values, CONTENT_TYPES)
def test_arbitrary_json_never_crashes_the_parser(value: Any, content_type: str | None) -> None:
    count("manifests")
    _check(json.dumps(value).encode(), content_type)


@settings(settings.get_profile("fuzz"))
@given(mutated_manifests(), CONTENT_TYPES)
def test_mutated_manifests_parse_or_are_refused(
    document: dict[str, Any], ctype: str | None
) -> None:
    count("manifests")
    _check(json.dumps(document).encode(), ctype)


def test_the_unmutated_manifest_parses() -> None:
    parsed = parse_manifest(json.dumps(BASE_MANIFEST).encode(), mt.OCI_MANIFEST)
    assert parsed.blobs == (DIGEST,)
