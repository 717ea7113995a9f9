"""PUT/GET/HEAD/DELETE /v2/<name>/manifests/<reference> against a running registry."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry import layout
from registry.storage import PathNotFoundError, StorageDriver
from tests.support.registry_content import (
    DOCKER_FOREIGN,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    SCHEMA1_SIGNED,
    add_blob,
    artifact_manifest,
    descriptor,
    encode,
    error_code,
    filesystem_driver,
    image_manifest,
    push,
    push_ok,
    sha256,
    unique_repo,
)

SCHEMA2_ONLY = {"Accept": DOCKER_MANIFEST}


@pytest.fixture()
def storage(storage_root: Path) -> StorageDriver:
    return filesystem_driver(storage_root)


@pytest.fixture()
def repo() -> str:
    return unique_repo("manifests")


def exists(storage: StorageDriver, path: str) -> bool:
    try:
        storage.stat(path)
    except PathNotFoundError:
        return False
    return True


def platform_entry(body: bytes, media_type: str, arch: str) -> dict[str, Any]:
    return descriptor(media_type, body, platform={"architecture": arch, "os": "linux"})


def push_list(
    client: httpx.Client,
    storage: StorageDriver,
    repo: str,
    list_type: str,
    child_type: str,
    arches: tuple[str, ...] = ("arm64", "amd64"),
) -> tuple[str, dict[str, tuple[str, bytes]]]:
    """Push one image per architecture, then a list of them tagged `multi`."""
    children = {}
    entries = []
    for arch in arches:
        child = image_manifest(storage, repo, child_type)
        digest, body = push_ok(client, repo, f"c-{arch}", child)
        children[arch] = (digest, body)
        entries.append(platform_entry(body, child_type, arch))
    document = {"schemaVersion": 2, "mediaType": list_type, "manifests": entries}
    digest, _ = push_ok(client, repo, "multi", document)
    return digest, children


# --- push and pull ---------------------------------------------------------------------


def test_put_by_tag_answers_201_with_location_and_digest(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    body = encode(image_manifest(storage, repo))
    response = push(client, repo, "v1", body, OCI_MANIFEST)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == sha256(body)
    assert response.headers["Location"] == f"/v2/{repo}/manifests/{sha256(body)}"
    assert "OCI-Subject" not in response.headers


def test_get_by_tag_serves_the_exact_bytes_with_their_headers(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["ETag"] == f'"{digest}"'


def test_get_by_digest_serves_the_same_bytes(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200
    assert response.content == body


def test_head_answers_headers_without_body(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.head(f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Content-Type"] == OCI_MANIFEST


def test_put_stores_exactly_distributions_layout(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "v1", image_manifest(storage, repo))
    assert storage.get_content(layout.blob_data(digest)) == body
    assert storage.get_content(layout.revision_link(repo, digest)) == digest.encode()
    assert storage.get_content(layout.tag_current_link(repo, "v1")) == digest.encode()
    assert storage.get_content(layout.tag_index_link(repo, "v1", digest)) == digest.encode()


def test_put_by_digest_stores_a_revision_without_any_tag(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    body = encode(image_manifest(storage, repo))
    response = push(client, repo, sha256(body), body, OCI_MANIFEST)
    assert response.status_code == 201
    assert client.get(f"/v2/{repo}/manifests/{sha256(body)}").content == body
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_docker_schema2_round_trips(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "s2", image_manifest(storage, repo, DOCKER_MANIFEST))
    response = client.get(f"/v2/{repo}/manifests/s2", headers=SCHEMA2_ONLY)
    assert response.content == body
    assert response.headers["Content-Type"] == DOCKER_MANIFEST
    assert response.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize(
    ("list_type", "child_type"), [(DOCKER_LIST, DOCKER_MANIFEST), (OCI_INDEX, OCI_MANIFEST)]
)
def test_manifest_lists_round_trip(
    client: httpx.Client, storage: StorageDriver, repo: str, list_type: str, child_type: str
) -> None:
    digest, _ = push_list(client, storage, repo, list_type, child_type)
    response = client.get(f"/v2/{repo}/manifests/multi", headers={"Accept": list_type})
    assert response.headers["Content-Type"] == list_type
    assert response.headers["Docker-Content-Digest"] == digest
    assert sha256(response.content) == digest


def test_artifact_with_empty_config_round_trips(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = artifact_manifest(storage, repo, "application/vnd.example.sbom", None)
    digest, body = push_ok(client, repo, "sbom", document)
    response = client.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
    assert response.content == body


def test_schema1_is_stored_and_served_verbatim(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    layer = add_blob(storage, repo, os.urandom(40), "application/octet-stream")
    document = {
        "schemaVersion": 1,
        "name": repo,
        "tag": "old",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer["digest"]}],
        "history": [{"v1Compatibility": "{}"}],
        "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "cHJv"}],
    }
    body = json.dumps(document, indent=3).encode()
    response = push(client, repo, "old", body, SCHEMA1_SIGNED)
    assert response.status_code == 201, response.text
    pulled = client.get(f"/v2/{repo}/manifests/old", headers={"Accept": SCHEMA1_SIGNED})
    assert pulled.content == body
    assert pulled.headers["Content-Type"] == SCHEMA1_SIGNED
    assert pulled.headers["Docker-Content-Digest"] == sha256(body)


def test_schema1_with_an_unknown_layer_is_manifest_blob_unknown(
    client: httpx.Client, repo: str
) -> None:
    missing = sha256(b"not pushed")
    document = {
        "schemaVersion": 1,
        "name": repo,
        "tag": "old",
        "fsLayers": [{"blobSum": missing}],
        "history": [{"v1Compatibility": "{}"}],
    }
    response = push(client, repo, "old", encode(document), SCHEMA1_SIGNED)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"digest": missing}


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream"])
def test_absent_or_generic_content_type_defers_to_media_type_field(
    client: httpx.Client, storage: StorageDriver, repo: str, content_type: str | None
) -> None:
    body = encode(image_manifest(storage, repo, DOCKER_MANIFEST))
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.put(f"/v2/{repo}/manifests/t", content=body, headers=headers)
    assert response.status_code == 201, response.text
    served = client.get(f"/v2/{repo}/manifests/t", headers=SCHEMA2_ONLY)
    assert served.headers["Content-Type"] == DOCKER_MANIFEST


def test_oci_manifest_without_media_type_field_is_served_as_oci(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = image_manifest(storage, repo)
    del document["mediaType"]
    response = push(client, repo, "bare", document, OCI_MANIFEST)
    assert response.status_code == 201
    served = client.get(f"/v2/{repo}/manifests/bare")
    assert served.headers["Content-Type"] == OCI_MANIFEST


# --- validation ------------------------------------------------------------------------


def test_content_type_contradicting_media_type_is_manifest_invalid(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    response = push(client, repo, "t", image_manifest(storage, repo), DOCKER_MANIFEST)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"mediaType": "application/vnd.oci.image.manifest.v1+json"}',
        b'{"schemaVersion": 3, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
        b'{"schemaVersion": 2, "mediaType": "application/vnd.example.unknown+json"}',
    ],
    ids=["not-json", "not-object", "no-schema-version", "schema-version-3", "unknown-type"],
)
def test_malformed_manifests_are_manifest_invalid(
    client: httpx.Client, repo: str, body: bytes
) -> None:
    response = push(client, repo, "t", body, "application/json")
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("digest", "sha256:short"),
        ("digest", "md5:0123456789abcdef0123456789abcdef"),
        ("size", -1),
        ("size", "12"),
        ("mediaType", None),
        ("annotations", {"k": 1}),
    ],
)
def test_bad_descriptors_are_manifest_invalid(
    client: httpx.Client, storage: StorageDriver, repo: str, field: str, value: Any
) -> None:
    document = image_manifest(storage, repo)
    document["layers"][0][field] = value
    response = push(client, repo, "t", document)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"


def test_oci_manifest_that_also_lists_manifests_is_manifest_invalid(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = image_manifest(storage, repo, manifests=[])
    response = push(client, repo, "t", document)
    assert error_code(response) == "MANIFEST_INVALID"


def test_unknown_layer_is_manifest_blob_unknown_naming_the_digest(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = image_manifest(storage, repo)
    missing = descriptor(OCI_LAYER, b"never uploaded")
    document["layers"].append(missing)
    response = push(client, repo, "t", document)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"digest": missing["digest"]}


def test_blob_linked_only_in_another_repository_is_manifest_blob_unknown(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = image_manifest(storage, unique_repo("elsewhere"))
    response = push(client, repo, "t", document)
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"digest": document["config"]["digest"]}


def test_foreign_layers_with_urls_need_not_be_uploaded(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    document = image_manifest(storage, repo, DOCKER_MANIFEST)
    foreign = descriptor(DOCKER_FOREIGN, b"windows base", urls=["https://example.com/base"])
    document["layers"].insert(0, foreign)
    response = push(client, repo, "win", document)
    assert response.status_code == 201, response.text


def test_index_with_an_unknown_child_is_manifest_blob_unknown(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    child = encode(image_manifest(storage, repo))  # blobs exist, manifest never pushed
    entries = [platform_entry(child, OCI_MANIFEST, "amd64")]
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    response = push(client, repo, "multi", document)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"digest": sha256(child)}


def test_body_over_4_mib_is_413(client: httpx.Client, storage: StorageDriver, repo: str) -> None:
    document = image_manifest(storage, repo)
    document["annotations"] = {"padding": "x" * (4 * 1024 * 1024)}
    response = push(client, repo, "big", document)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "SIZE_INVALID"


def test_put_by_digest_with_other_content_is_digest_invalid(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    body = encode(image_manifest(storage, repo))
    response = push(client, repo, sha256(b"something else"), body, OCI_MANIFEST)
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "bad+tag"])
def test_invalid_tag_is_tag_invalid(
    client: httpx.Client, storage: StorageDriver, repo: str, tag: str
) -> None:
    response = push(client, repo, tag, image_manifest(storage, repo))
    assert response.status_code == 400
    assert error_code(response) == "TAG_INVALID"


def test_pushing_a_tag_again_moves_it_and_keeps_its_history(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    first, _ = push_ok(client, repo, "latest", image_manifest(storage, repo))
    second, body = push_ok(client, repo, "latest", image_manifest(storage, repo))
    assert client.get(f"/v2/{repo}/manifests/latest").content == body
    assert exists(storage, layout.tag_index_link(repo, "latest", first))
    assert exists(storage, layout.tag_index_link(repo, "latest", second))


# --- unknown content -------------------------------------------------------------------


def test_unknown_tag_of_a_known_repository_is_manifest_unknown(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.get(f"/v2/{repo}/manifests/v2")
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"
    response = client.get(f"/v2/{repo}/manifests/{sha256(b'nothing')}")
    assert error_code(response) == "MANIFEST_UNKNOWN"


def test_unknown_repository_is_name_unknown(client: httpx.Client) -> None:
    response = client.get(f"/v2/{unique_repo('nowhere')}/manifests/latest")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


def test_head_of_an_unknown_manifest_is_404_without_body(client: httpx.Client) -> None:
    response = client.head(f"/v2/{unique_repo('nowhere')}/manifests/latest")
    assert response.status_code == 404
    assert response.content == b""


def test_get_with_a_malformed_digest_is_digest_invalid(client: httpx.Client, repo: str) -> None:
    response = client.get(f"/v2/{repo}/manifests/sha256:nothex")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_matching_if_none_match_answers_304(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, _ = push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.get(f"/v2/{repo}/manifests/v1", headers={"If-None-Match": f'"{digest}"'})
    assert response.status_code == 304
    assert response.headers["Docker-Content-Digest"] == digest


# --- Accept negotiation ----------------------------------------------------------------


def test_oci_manifest_for_a_client_accepting_only_docker_types_is_manifest_unknown(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    push_ok(client, repo, "oci", image_manifest(storage, repo))
    response = client.get(f"/v2/{repo}/manifests/oci", headers=SCHEMA2_ONLY)
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"


@pytest.mark.parametrize("accept", [None, "*/*", f"{DOCKER_MANIFEST}, */*;q=0.5"])
def test_no_accept_or_a_wildcard_serves_the_stored_type(
    client: httpx.Client, storage: StorageDriver, repo: str, accept: str | None
) -> None:
    _, body = push_ok(client, repo, "oci", image_manifest(storage, repo))
    headers = {"Accept": accept} if accept else {}
    response = client.get(f"/v2/{repo}/manifests/oci", headers=headers)
    assert response.status_code == 200
    assert response.content == body


@pytest.mark.parametrize(
    ("list_type", "child_type"), [(DOCKER_LIST, DOCKER_MANIFEST), (OCI_INDEX, OCI_MANIFEST)]
)
def test_list_by_tag_for_a_client_without_list_types_serves_the_linux_amd64_child(
    client: httpx.Client, storage: StorageDriver, repo: str, list_type: str, child_type: str
) -> None:
    _, children = push_list(client, storage, repo, list_type, child_type)
    response = client.get(f"/v2/{repo}/manifests/multi", headers={"Accept": child_type})
    assert response.status_code == 200
    assert response.content == children["amd64"][1]
    assert response.headers["Docker-Content-Digest"] == children["amd64"][0]
    assert response.headers["Content-Type"] == child_type


def test_docker_list_by_digest_is_served_as_stored_whatever_the_accept(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, _ = push_list(client, storage, repo, DOCKER_LIST, DOCKER_MANIFEST)
    response = client.get(f"/v2/{repo}/manifests/{digest}", headers=SCHEMA2_ONLY)
    assert response.headers["Content-Type"] == DOCKER_LIST
    assert response.headers["Docker-Content-Digest"] == digest


def test_list_without_a_linux_amd64_child_is_manifest_unknown_for_such_clients(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    push_list(client, storage, repo, DOCKER_LIST, DOCKER_MANIFEST, arches=("arm64",))
    response = client.get(f"/v2/{repo}/manifests/multi", headers=SCHEMA2_ONLY)
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"


# --- delete ----------------------------------------------------------------------------


def test_delete_by_digest_removes_the_revision_and_the_tags_on_it(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, _ = push_ok(client, repo, "a", image_manifest(storage, repo))
    push_ok(client, repo, "b", client.get(f"/v2/{repo}/manifests/a").content)
    other, _ = push_ok(client, repo, "c", image_manifest(storage, repo))
    response = client.delete(f"/v2/{repo}/manifests/{digest}")
    assert response.status_code == 202
    assert client.get(f"/v2/{repo}/manifests/{digest}").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/a").status_code == 404
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["c"]
    assert not exists(storage, layout.revision_link(repo, digest))
    assert exists(storage, layout.blob_data(digest))  # the bytes stay for GC
    assert client.get(f"/v2/{repo}/manifests/{other}").status_code == 200


def test_delete_by_tag_removes_only_that_tag(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    digest, body = push_ok(client, repo, "a", image_manifest(storage, repo))
    push_ok(client, repo, "b", body)
    response = client.delete(f"/v2/{repo}/manifests/a")
    assert response.status_code == 202
    assert client.get(f"/v2/{repo}/manifests/a").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/b").content == body
    assert client.get(f"/v2/{repo}/manifests/{digest}").content == body


@pytest.mark.parametrize("reference", ["missing", sha256(b"missing")])
def test_delete_of_an_unknown_manifest_is_manifest_unknown(
    client: httpx.Client, storage: StorageDriver, repo: str, reference: str
) -> None:
    push_ok(client, repo, "v1", image_manifest(storage, repo))
    response = client.delete(f"/v2/{repo}/manifests/{reference}")
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"


def test_delete_in_an_unknown_repository_is_name_unknown(client: httpx.Client) -> None:
    response = client.delete(f"/v2/{unique_repo('nowhere')}/manifests/{sha256(b'x')}")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


def test_chunked_body_over_4_mib_is_413_without_content_length(
    client: httpx.Client, repo: str
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b" " * (1024 * 1024)

    response = client.put(
        f"/v2/{repo}/manifests/big", content=chunks(), headers={"Content-Type": OCI_MANIFEST}
    )
    assert response.status_code == 413
