"""Uploads under concurrent and hostile clients: one writer per session, all-or-nothing chunks,
finished blobs immutable. Raw sockets send what polite clients never would."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry import layout
from testbed.processes import RegistryProcess, cluster_of_two
from testbed.raw_http import RawConnection, request


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def new_repo() -> str:
    return f"integrity/r{uuid.uuid4().hex[:12]}"


def start(client: httpx.Client, repo: str) -> str:
    response = client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def blob_file(root: Path, digest: str) -> Path:
    return root / layout.blob_data(digest).lstrip("/")


def upload_file(root: Path, location: str) -> Path:
    _, _, rest = location.partition("/v2/")
    name, _, upload_id = rest.partition("/blobs/uploads/")
    return root / layout.upload_data(name, upload_id).lstrip("/")


def hold_patch(port: int, location: str, length: int, content_range: str | None) -> RawConnection:
    """A PATCH whose head is sent and whose body is not (yet): the server holds the upload
    for it once it has read the head."""
    conn = RawConnection(port)
    headers = {"Content-Length": str(length)}
    if content_range:
        headers["Content-Range"] = content_range
    conn.send_head("PATCH", location, headers)
    return conn


def held_patch(
    port: int, client: httpx.Client, location: str, length: int, content_range: str | None = None
) -> RawConnection:
    """hold_patch(), once an empty PATCH through `client` (harmless when it goes through) is
    refused with 416, i.e. the held request has taken the session. A probe that came first
    makes the held request itself refused: then it is sent again."""
    for _ in range(20):
        conn = hold_patch(port, location, length, content_range)
        time.sleep(0.2)
        probe = client.patch(location, content=b"")
        if probe.status_code == 416:
            return conn
        assert probe.status_code == 202, probe.text
        conn.close()
    raise AssertionError("the held PATCH never took the session")


def test_put_while_a_patch_holds_the_upload_is_refused_and_the_blob_stays_exact(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, first, injected = new_repo(), os.urandom(5000), os.urandom(3000)
    location = start(client, repo)
    assert client.patch(location, content=first).status_code == 202
    held = held_patch(registry_server.port, client, location, len(injected))
    try:
        refused = client.put(location, params={"digest": sha256(first)})
        assert refused.status_code == 416, refused.text
        assert refused.json()["errors"][0]["code"] == "RANGE_INVALID"
        assert refused.headers["Range"] == f"0-{len(first) - 1}"
        assert client.head(f"/v2/{repo}/blobs/{sha256(first)}").status_code == 404
        held.send(injected)
        assert held.response().status == 202
    finally:
        held.close()
    whole = first + injected
    done = client.put(location, params={"digest": sha256(whole)})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{repo}/blobs/{sha256(whole)}").content == whole
    assert not blob_file(registry_server.storage_root, sha256(first)).exists()


def test_a_patch_after_the_put_never_reaches_the_blob(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, data = new_repo(), os.urandom(4000)
    location = start(client, repo)
    assert client.patch(location, content=data).status_code == 202
    assert client.put(location, params={"digest": sha256(data)}).status_code == 201
    late = request(registry_server.port, "PATCH", location, b"poison")
    assert late.status == 404 and late.error_code == "BLOB_UPLOAD_UNKNOWN"
    assert blob_file(registry_server.storage_root, sha256(data)).read_bytes() == data


def two_patches_at_zero(
    first: RegistryProcess, second: RegistryProcess, location: str, a: bytes, b: bytes
) -> tuple[int, int]:
    """Two PATCHes of `Content-Range: 0-...` whose heads arrive before either body."""
    with httpx.Client(base_url=second.url, timeout=30) as client:
        one = held_patch(first.port, client, location, len(a), f"0-{len(a) - 1}")
    two = hold_patch(second.port, location, len(b), f"0-{len(b) - 1}")
    try:
        refused = two.response()  # answered at once, before any byte of its body
        assert refused.status == 416, refused.body
        assert refused.error_code == "RANGE_INVALID"
        one.send(a)
        accepted = one.response()
        return accepted.status, refused.status
    finally:
        one.close()
        two.close()


def test_two_patches_at_the_same_offset_the_second_is_refused_at_once(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, a, b = new_repo(), os.urandom(1000), os.urandom(1000)
    location = start(client, repo)
    assert two_patches_at_zero(registry_server, registry_server, location, a, b) == (202, 416)
    assert client.get(location).headers["Range"] == "0-999"
    wrong = client.put(location, params={"digest": sha256(b)})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "DIGEST_INVALID"
    location = start(client, repo)
    assert two_patches_at_zero(registry_server, registry_server, location, a, b) == (202, 416)
    assert client.put(location, params={"digest": sha256(a)}).status_code == 201
    assert client.get(f"/v2/{repo}/blobs/{sha256(a)}").content == a


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[tuple[RegistryProcess, RegistryProcess]]:
    """Two registry processes sharing storage and database, with short upload timeouts."""
    uploads = {"docker_registry": {"uploads": {"lock_ttl": "3s", "idle_timeout": "2s"}}}
    with cluster_of_two(tmp_path, uploads) as pair:
        yield pair


def test_two_patches_on_two_instances_one_writer_at_a_time(
    cluster: tuple[RegistryProcess, RegistryProcess],
) -> None:
    first, second = cluster
    repo, a, b = new_repo(), os.urandom(1000), os.urandom(1000)
    with httpx.Client(base_url=first.url, timeout=30) as client:
        location = start(client, repo)
        assert two_patches_at_zero(first, second, location, a, b) == (202, 416)
        assert client.put(location, params={"digest": sha256(a)}).status_code == 201
        assert client.get(f"/v2/{repo}/blobs/{sha256(a)}").content == a


def test_killed_registry_frees_its_uploads_within_the_lock_ttl(
    cluster: tuple[RegistryProcess, RegistryProcess],
) -> None:
    first, second = cluster
    repo, data, more = new_repo(), os.urandom(2000), os.urandom(700)
    with httpx.Client(base_url=second.url, timeout=30) as client:
        location = start(client, repo)
        assert client.patch(location, content=data).status_code == 202
        held = held_patch(first.port, client, location, 10_000)
        held.send(b"x" * 4000)  # part of a body: written, never committed
        time.sleep(0.5)
        assert first.proc is not None
        killed_at = time.monotonic()
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        held.close()
        while (response := client.patch(location, content=more)).status_code == 416:
            assert time.monotonic() - killed_at < 3 + 2, "the session stayed locked past its TTL"
            time.sleep(0.1)
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{len(data) + len(more) - 1}"
        whole = data + more
        assert client.put(location, params={"digest": sha256(whole)}).status_code == 201
        assert client.get(f"/v2/{repo}/blobs/{sha256(whole)}").content == whole


def test_chunked_patch_shorter_than_its_content_range_leaves_the_session_as_it_was(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, data = new_repo(), os.urandom(3000)
    location = start(client, repo)
    assert client.patch(location, content=data[:1000]).status_code == 202
    with RawConnection(registry_server.port) as conn:
        conn.send_head(
            "PATCH", location, {"Transfer-Encoding": "chunked", "Content-Range": "1000-2999"}
        )
        conn.send_chunk(data[1000:1500])
        conn.send_chunk(b"")
        answer = conn.response()
    assert answer.status == 400 and answer.error_code == "SIZE_INVALID"
    assert client.get(location).headers["Range"] == "0-999"
    assert upload_file(registry_server.storage_root, location).stat().st_size == 1000
    rest = {"Content-Range": "1000-2999"}
    assert client.patch(location, content=data[1000:], headers=rest).status_code == 202
    assert client.put(location, params={"digest": sha256(data)}).status_code == 201


def test_chunked_patch_longer_than_its_content_range_is_refused_and_keeps_nothing(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, data = new_repo(), os.urandom(3 << 20)
    location = start(client, repo)
    with RawConnection(registry_server.port) as conn:
        conn.send_head("PATCH", location, {"Transfer-Encoding": "chunked", "Content-Range": "0-99"})
        conn.send_chunk(data)
        conn.send_chunk(b"")
        answer = conn.response()
    assert answer.status == 400 and answer.error_code == "SIZE_INVALID"
    assert client.get(location).headers["Range"] == "0-0"
    assert upload_file(registry_server.storage_root, location).stat().st_size == 0


def test_stalled_patch_fails_after_the_idle_timeout_and_frees_the_session(
    cluster: tuple[RegistryProcess, RegistryProcess],
) -> None:
    first, _ = cluster
    repo, data = new_repo(), os.urandom(5000)
    with httpx.Client(base_url=first.url, timeout=30) as client:
        location = start(client, repo)
        range_ = {"Content-Range": "0-4999"}
        with hold_patch(first.port, location, len(data), range_["Content-Range"]) as held:
            held.send(data[:100])
            began = time.monotonic()
            answer = held.response()
        assert answer.status == 408 and answer.error_code == "BLOB_UPLOAD_INVALID"
        assert 1.5 < time.monotonic() - began < 10
        assert client.get(location).headers["Range"] == "0-0"
        assert client.patch(location, content=data, headers=range_).status_code == 202
        assert client.put(location, params={"digest": sha256(data)}).status_code == 201


def test_delete_while_a_patch_writes_is_refused_with_409(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, data = new_repo(), os.urandom(2000)
    location = start(client, repo)
    with held_patch(registry_server.port, client, location, len(data)) as held:
        refused = client.delete(location)
        assert refused.status_code == 409
        assert refused.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
        held.send(data)
        assert held.response().status == 202
    assert client.delete(location).status_code == 204
    assert client.get(location).status_code == 404


def test_push_over_a_stored_copy_of_another_size_replaces_it(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, data = new_repo(), os.urandom(4000)
    digest = sha256(data)
    path = blob_file(registry_server.storage_root, digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(data + b"appended by an attacker")
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    assert path.read_bytes() == data
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data
    assert f"blob {digest} held" in registry_server.log_text()


def test_manifest_push_replaces_a_stored_copy_with_other_bytes(
    client: httpx.Client, registry_server: RegistryProcess
) -> None:
    repo, config = new_repo(), b"{}"
    target = f"/v2/{repo}/blobs/uploads/"
    pushed = client.post(target, params={"digest": sha256(config)}, content=config)
    assert pushed.status_code == 201
    manifest = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'
        + sha256(config).encode()
        + b'","size":2},"layers":[]}'
    )
    kind = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    assert client.put(f"/v2/{repo}/manifests/v1", content=manifest, headers=kind).status_code == 201
    path = blob_file(registry_server.storage_root, sha256(manifest))
    path.write_bytes(manifest.replace(b"schemaVersion", b"schemaVersioN"))  # same size
    assert client.put(f"/v2/{repo}/manifests/v1", content=manifest, headers=kind).status_code == 201
    assert path.read_bytes() == manifest
