"""References that cannot name a manifest: reads and deletes answer 404, pushes 400.

The OCI conformance suite (v1.1.1) pulls `/manifests/.INVALID_MANIFEST_NAME` and requires 404:
the spec's pull section allows only 404 for a manifest that is not found, and Distribution's
routes never match such a tag. A push to it is still refused with `400 TAG_INVALID`.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from registry.storage import StorageDriver
from testbed.processes import RegistryProcess
from tests.support.registry_content import (
    error_code,
    filesystem_driver,
    image_manifest,
    push,
    push_ok,
    sha256,
    unique_repo,
)

# The first is the conformance suite's own; then each rule of the tag grammar broken once.
OFF_GRAMMAR_TAGS = [
    ".INVALID_MANIFEST_NAME",
    "-dash",
    pytest.param("a" * 129, id="129-characters"),
    "bad+tag",
    pytest.param("%C3%A4", id="non-ascii"),
    pytest.param("%2E%2E", id="encoded-dot-dot"),
]


@pytest.fixture()
def storage(storage_root: Path) -> StorageDriver:
    return filesystem_driver(storage_root)


@pytest.fixture()
def repo(client: httpx.Client, storage: StorageDriver) -> str:
    """A repository holding one manifest tagged `v1`."""
    name = unique_repo("references")
    push_ok(client, name, "v1", image_manifest(storage, name))
    return name


@pytest.mark.parametrize("tag", OFF_GRAMMAR_TAGS)
def test_get_of_a_tag_outside_the_grammar_is_manifest_unknown(
    client: httpx.Client, repo: str, tag: str
) -> None:
    response = client.get(f"/v2/{repo}/manifests/{tag}")
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"


@pytest.mark.parametrize("tag", OFF_GRAMMAR_TAGS)
def test_head_of_a_tag_outside_the_grammar_is_404_without_body(
    client: httpx.Client, repo: str, tag: str
) -> None:
    response = client.head(f"/v2/{repo}/manifests/{tag}")
    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize("tag", OFF_GRAMMAR_TAGS)
def test_delete_of_a_tag_outside_the_grammar_is_manifest_unknown_and_removes_nothing(
    client: httpx.Client, repo: str, tag: str
) -> None:
    response = client.delete(f"/v2/{repo}/manifests/{tag}")
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
    assert client.get(f"/v2/{repo}/manifests/v1").status_code == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_tag_outside_the_grammar_in_an_unknown_repository_is_name_unknown(
    client: httpx.Client, method: str
) -> None:
    response = client.request(method, f"/v2/{unique_repo('nowhere')}/manifests/.INVALID")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


@pytest.mark.parametrize("tag", OFF_GRAMMAR_TAGS)
def test_put_to_a_tag_outside_the_grammar_is_still_tag_invalid_and_stores_nothing(
    client: httpx.Client, storage: StorageDriver, repo: str, tag: str
) -> None:
    response = push(client, repo, tag, image_manifest(storage, repo))
    assert response.status_code == 400
    assert error_code(response) == "TAG_INVALID"
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]


@pytest.mark.parametrize("reference", ["sha256:nothex", "md5:" + "a" * 32, "sha256:" + "A" * 64])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_malformed_digest_stays_digest_invalid_on_reads_and_deletes(
    client: httpx.Client, repo: str, method: str, reference: str
) -> None:
    # The spec asks 400 for an invalid digest, and the current suite accepts 400 or 404 here.
    response = client.request(method, f"/v2/{repo}/manifests/{reference}")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


@pytest.mark.parametrize("reference", ["..", "."])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_dot_segments_sent_verbatim_never_reach_storage_paths(
    registry_server: RegistryProcess, client: httpx.Client, repo: str, method: str, reference: str
) -> None:
    # httpx would resolve the dot segments itself, so the request line goes out by hand.
    status, body = _raw_request(registry_server.port, method, f"/v2/{repo}/manifests/{reference}")
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert client.get(f"/v2/{repo}/manifests/v1").status_code == 200


def test_a_tag_of_the_grammar_that_was_never_pushed_is_manifest_unknown(
    client: httpx.Client, repo: str
) -> None:
    for reference in ("never-pushed", sha256(b"never pushed")):
        response = client.get(f"/v2/{repo}/manifests/{reference}")
        assert response.status_code == 404
        assert error_code(response) == "MANIFEST_UNKNOWN"


def _raw_request(port: int, method: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request with the path exactly as given; the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        raw.sendall(head.encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head_part, _, body = answer.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), body
