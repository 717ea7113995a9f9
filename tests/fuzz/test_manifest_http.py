"""Manifest pushes under fuzzing through a running registry: arbitrary bytes, arbitrary JSON,
deep nesting and huge numbers are answered 201 or a 4xx with an OCI error body, never 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.content import mediatypes as mt
from testbed.processes import RegistryProcess
from tests.fuzz.counting import count
from tests.fuzz.test_manifest_format import (
    BASE_MANIFEST,
    huge_integers,
    json_values,
    mutated_manifests,
)

REPO = "fuzz/manifests"
# Content-Types an HTTP client can send at all (visible ASCII, no outer spaces).
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(sorted(mt.MANIFEST_TYPES) + ["text/plain", "application/json"]),
    st.from_regex(r"[!-~]([ -~]{0,28}[!-~])?", fullmatch=True),
)


@pytest.fixture(scope="module")
def http(registry_server: RegistryProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_server.url, timeout=60.0) as client:
        yield client


def _push(http: httpx.Client, body: bytes, content_type: str | None) -> None:
    count("manifest pushes")
    headers = {"Content-Type": content_type} if content_type is not None else {}
    response = http.put(f"/v2/{REPO}/manifests/latest", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["errors"][0]["code"], response.text


def _json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


@settings(settings.get_profile("fuzz"), max_examples=100)
@given(st.binary(max_size=300), CONTENT_TYPES)
def test_arbitrary_bytes_never_answer_500(
    http: httpx.Client, body: bytes, content_type: str | None
) -> None:
    _push(http, body, content_type)


@settings(settings.get_profile("fuzz"), max_examples=100)
@given(json_values, CONTENT_TYPES)
def test_arbitrary_json_never_answers_500(
    http: httpx.Client, value: Any, content_type: str | None
) -> None:
    _push(http, _json_body(value), content_type)


@settings(settings.get_profile("fuzz"), max_examples=100)
@given(mutated_manifests(), CONTENT_TYPES)
def test_mutated_manifests_never_answer_500(
    http: httpx.Client, document: dict[str, Any], content_type: str | None
) -> None:
    _push(http, _json_body(document), content_type)


@settings(settings.get_profile("fuzz"), max_examples=40)
@given(st.integers(0, 300_000), st.sampled_from([b"[", b"{", b'{"a":']), st.booleans())
def test_nesting_of_any_depth_never_answers_500(
    http: httpx.Client, depth: int, opener: bytes, closed: bool
) -> None:
    closer = {b"[": b"]", b"{": b"}", b'{"a":': b"1}"}[opener]
    body = b'{"schemaVersion": 2, "annotations": ' + opener * depth
    _push(http, body + (closer * depth + b"}" if closed else b""), None)


@settings(settings.get_profile("fuzz"), max_examples=60)
@given(st.sampled_from(["config", "layers"]), huge_integers | st.floats())
def test_numbers_of_any_size_in_descriptors_never_answer_500(
    http: httpx.Client, where: str, size: Any
) -> None:
    document = json.loads(json.dumps(BASE_MANIFEST))
    target = document["config"] if where == "config" else document["layers"][0]
    target["size"] = size
    _push(http, _json_body(document), None)
