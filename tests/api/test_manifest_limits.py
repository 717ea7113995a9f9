"""Hostile manifest bodies against a running registry: every one answers 400
MANIFEST_INVALID with an OCI error body, and the registry keeps serving."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from registry.content.descriptors import MAX_SIZE
from registry.storage import StorageDriver
from testbed.processes import RegistryProcess
from tests.support.registry_content import (
    OCI_INDEX,
    OCI_MANIFEST,
    encode,
    filesystem_driver,
    image_manifest,
    push,
    unique_repo,
)


@pytest.fixture()
def storage(registry_server: RegistryProcess) -> StorageDriver:
    return filesystem_driver(registry_server.storage_root)


def put_raw(client: httpx.Client, body: bytes, media_type: str = OCI_MANIFEST) -> httpx.Response:
    url = f"/v2/{unique_repo('hostile')}/manifests/latest"
    return client.put(url, content=body, headers={"Content-Type": media_type})


def assert_manifest_invalid(response: httpx.Response, reason: str = "") -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert reason in error["message"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_manifests_answer_manifest_invalid(client: httpx.Client, depth: int) -> None:
    body = b'{"schemaVersion": 2, "annotations": ' + b"[" * depth + b"]" * depth + b"}"
    assert_manifest_invalid(put_raw(client, body), "nest deeper than 64 levels")


def test_a_body_of_nothing_but_brackets_answers_manifest_invalid(client: httpx.Client) -> None:
    assert_manifest_invalid(put_raw(client, b"[" * (4 * 1024 * 1024 - 1)), "nest deeper")


@pytest.mark.parametrize("size", [10**30, -1, MAX_SIZE + 1])
def test_layer_sizes_outside_int64_answer_manifest_invalid(
    client: httpx.Client, storage: StorageDriver, size: int
) -> None:
    repo = unique_repo("hostile")
    document = image_manifest(storage, repo)
    document["layers"][0]["size"] = size
    response = push(client, repo, "latest", document)
    assert_manifest_invalid(response, "layers[0].size must be an integer from 0 to 2^63-1")


def test_the_largest_int64_size_is_accepted_as_far_as_the_format_goes(
    client: httpx.Client, storage: StorageDriver
) -> None:
    repo = unique_repo("hostile")
    document = image_manifest(storage, repo)
    document["config"]["size"] = MAX_SIZE
    assert push(client, repo, "latest", document).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("config", ["not", "a", "descriptor"]),
        ("layers", {"mediaType": OCI_MANIFEST}),
        ("subject", 5),
        ("annotations", {"a": {"b": "c"}}),
    ],
)
def test_fields_that_hold_descriptors_or_annotations_must_hold_them(
    client: httpx.Client, storage: StorageDriver, field: str, value: Any
) -> None:
    repo = unique_repo("hostile")
    document = image_manifest(storage, repo)
    document[field] = value
    assert_manifest_invalid(push(client, repo, "latest", document))


def test_index_platforms_of_other_types_answer_manifest_invalid(client: httpx.Client) -> None:
    entry = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": 1}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{**entry, "platform": {"architecture": ["amd64"], "os": "linux"}}],
    }
    assert_manifest_invalid(put_raw(client, encode(document), OCI_INDEX), "platform")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe{",
        b'{"schemaVersion": NaN}',
        json.dumps({"schemaVersion": 2}).encode("utf-16"),
        b'{"size": ' + b"9" * 10_000 + b"}",
        b'{"a": "\\ud800"}',
    ],
)
def test_odd_bodies_answer_manifest_invalid(client: httpx.Client, body: bytes) -> None:
    assert_manifest_invalid(put_raw(client, body))


def test_the_registry_still_serves_after_hostile_manifests(client: httpx.Client) -> None:
    for depth in (999, 1_000, 50_000):
        put_raw(client, b"[" * depth)
    assert client.get("/v2/").status_code == 200
