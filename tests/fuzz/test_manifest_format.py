"""Manifest parsing under fuzzing: bytes, JSON of any shape, mutated real manifests, nesting
of any depth and numbers of any size are either parsed (into digests that are valid) or
refused with MANIFEST_INVALID/DIGEST_INVALID, never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.content import mediatypes as mt
from registry.content.bounded_json import MAX_DEPTH, exceeds_depth
from registry.content.manifest_format import parse_manifest
from registry.content.names import validate_digest
from registry.errors import DigestInvalid, ManifestInvalid
from tests.fuzz.counting import count

DIGEST = "sha256:" + "a" * 64
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(sorted(mt.IMAGE_TYPES | mt.SCHEMA1_TYPES) + [mt.OCI_INDEX, "text/plain", ""]),
    st.text(max_size=30),
)
huge_integers = st.integers(min_value=-(2**256), max_value=2**256)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | huge_integers
    | st.floats()  # NaN and ±Infinity become JSON's forbidden constants
    | st.text(max_size=20)
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


# Strings that hold JSON's structural characters, so that only a real string scan skips them.
tricky_text = st.text(alphabet='[]{}"\\:, ab\u00e9\ud7ff', max_size=12)


@st.composite
def nested_values(draw: st.DrawFn) -> tuple[Any, int]:
    """A value nested to a drawn depth around the limit, with tricky strings on the way."""
    depth = draw(st.integers(0, MAX_DEPTH + 8))
    value: Any = draw(tricky_text)
    for _ in range(depth):
        siblings = draw(st.lists(tricky_text, max_size=2))
        if draw(st.booleans()):
            value = [*siblings, value]
        else:
            value = {**{f"{s}{i}": s for i, s in enumerate(siblings)}, draw(tricky_text): value}
    return value, depth


@settings(settings.get_profile("fuzz"))
@given(nested_values())
def test_the_depth_scan_agrees_with_the_parsed_depth(drawn: tuple[Any, int]) -> None:
    count("manifests")
    value, depth = drawn
    assert exceeds_depth(json.dumps(value).encode()) == (depth > MAX_DEPTH)


@settings(settings.get_profile("fuzz"))
@given(nested_values(), st.sampled_from(["config", "layers", "annotations", "subject"]))
def test_deep_values_anywhere_in_a_manifest_are_parsed_or_refused(
    drawn: tuple[Any, int], key: str
) -> None:
    count("manifests")
    document = json.loads(json.dumps(BASE_MANIFEST))
    document[key] = drawn[0]
    _check(json.dumps(document).encode(), mt.OCI_MANIFEST)


@settings(settings.get_profile("fuzz"))
@given(
    st.integers(0, 200_000),
    st.sampled_from([b"[", b"{", b'{"a":', b'[{"a":']),
    st.booleans(),
)
def test_nesting_of_any_depth_never_crashes(depth: int, opener: bytes, closed: bool) -> None:
    count("manifests")
    closer = {b"[": b"]", b"{": b"}", b'{"a":': b"1}", b'[{"a":': b"1}]"}[opener]
    _check(opener * depth + (closer * depth if closed else b""), None)


@settings(settings.get_profile("fuzz"))
@given(st.lists(st.sampled_from(list(b'[]{}",:\\ 1e-')), max_size=400).map(bytes))
def test_bracket_soup_never_crashes(body: bytes) -> None:
    count("manifests")
    _check(body, mt.OCI_MANIFEST)


@settings(settings.get_profile("fuzz"))
@given(st.sampled_from(["config", "layers"]), st.text("0123456789-+.eE", min_size=1, max_size=6000))
def test_numbers_of_any_size_in_size_fields_never_crash(where: str, digits: str) -> None:
    count("manifests")
    body = json.dumps(BASE_MANIFEST).encode()
    if where == "config":
        body = body.replace(b'"size": 10', b'"size": ' + digits.encode(), 1)
    else:
        head, sep, tail = body.rpartition(b'"size": 10')
        body = head + b'"size": ' + digits.encode() + tail
    _check(body, mt.OCI_MANIFEST)
