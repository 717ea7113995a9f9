"""Blob uploads over HTTP against running registry processes (monolithic, chunked, mounts)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess, cluster_of_two

V2 = Path("docker/registry/v2")


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture()
def repo() -> str:
    return f"uploads/r{uuid.uuid4().hex[:12]}"


def start(client: httpx.Client, repo: str) -> str:
    response = client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


# --- starting an upload ---------------------------------------------------------------


def test_post_starts_an_upload_as_distribution_answers(client: httpx.Client, repo: str) -> None:
    response = client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202
    upload_id = response.headers["Docker-Upload-UUID"]
    assert response.headers["Location"] == f"/v2/{repo}/blobs/uploads/{upload_id}"
    assert response.headers["Range"] == "0-0"
    assert response.headers["Content-Length"] == "0"
    assert uuid.UUID(upload_id).version == 4


def test_new_upload_is_stored_in_distributions_layout(
    client: httpx.Client, repo: str, storage_root: Path
) -> None:
    upload_id = start(client, repo).rpartition("/")[2]
    upload = storage_root / V2 / "repositories" / repo / "_uploads" / upload_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", (upload / "startedat").read_text())
    assert (upload / "data").read_bytes() == b""
    assert (upload / "hashstates/sha256/0").stat().st_size == 108


def test_monolithic_post_with_digest_creates_the_blob(client: httpx.Client, repo: str) -> None:
    data = os.urandom(3000)
    digest = sha256(data)
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v2/{repo}/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_monolithic_post_with_wrong_digest_leaves_nothing(
    client: httpx.Client, repo: str, storage_root: Path
) -> None:
    wrong = sha256(b"something else")
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, content=b"x")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert client.head(f"/v2/{repo}/blobs/{wrong}").status_code == 404
    uploads = storage_root / V2 / "repositories" / repo / "_uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "x"])
def test_post_with_malformed_digest_is_digest_invalid(
    client: httpx.Client, repo: str, digest: str
) -> None:
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=b"x")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_monolithic_sha512_upload_is_served_under_its_digest(
    client: httpx.Client, repo: str
) -> None:
    data = b"sha512 content"
    digest = f"sha512:{hashlib.sha512(data).hexdigest()}"
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


# --- POST then PUT, chunked PATCH -------------------------------------------------------


def test_post_then_put_with_the_whole_body(client: httpx.Client, repo: str) -> None:
    data = os.urandom(10_000)
    location = start(client, repo)
    response = client.put(location, params={"digest": sha256(data)}, content=data)
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == sha256(data)
    assert response.headers["Location"] == f"/v2/{repo}/blobs/{sha256(data)}"
    assert client.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_chunks_with_content_range_report_progress(client: httpx.Client, repo: str) -> None:
    data = os.urandom(7 << 20)  # chunks spanning several of the server's 1 MiB writes
    location = start(client, repo)
    offset = 0
    for chunk in pieces(data, (3 << 20) + 17):
        end = offset + len(chunk) - 1
        headers = {"Content-Range": f"{offset}-{end}", "Content-Type": "application/octet-stream"}
        response = client.patch(location, content=chunk, headers=headers)
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{end}"
        assert response.headers["Location"] == location
        offset = end + 1
    response = client.put(location, params={"digest": sha256(data)})
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_streamed_patch_without_content_range_appends(client: httpx.Client, repo: str) -> None:
    data = os.urandom(5 << 20)
    location = start(client, repo)
    response = client.patch(location, content=pieces(data, 65536))  # chunked encoding
    assert response.status_code == 202
    assert response.headers["Range"] == f"0-{len(data) - 1}"
    response = client.patch(location, content=pieces(b"tail", 2))
    assert response.headers["Range"] == f"0-{len(data) + 3}"
    response = client.put(location, params={"digest": sha256(data + b"tail")})
    assert response.status_code == 201


def test_put_may_carry_the_last_chunk(client: httpx.Client, repo: str) -> None:
    location = start(client, repo)
    client.patch(location, content=b"head-", headers={"Content-Range": "0-4"})
    response = client.put(
        location,
        params={"digest": sha256(b"head-tail")},
        content=b"tail",
        headers={"Content-Range": "5-8"},
    )
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/blobs/{sha256(b'head-tail')}").content == b"head-tail"


def test_empty_blob_upload(client: httpx.Client, repo: str) -> None:
    location = start(client, repo)
    response = client.put(location, params={"digest": sha256(b"")})
    assert response.status_code == 201
    blob = client.get(f"/v2/{repo}/blobs/{sha256(b'')}")
    assert blob.status_code == 200
    assert blob.content == b""


@pytest.mark.parametrize("content_range", ["0-9", "20-29", "5-14"])
def test_chunk_not_starting_at_the_end_is_range_invalid(
    client: httpx.Client, repo: str, content_range: str
) -> None:
    location = start(client, repo)
    client.patch(location, content=b"0123456789", headers={"Content-Range": "0-9"})
    response = client.patch(
        location, content=b"abcdefghij", headers={"Content-Range": content_range}
    )
    assert response.status_code == 416
    assert error_code(response) == "RANGE_INVALID"
    assert response.headers["Range"] == "0-9"
    assert response.headers["Location"] == location
    assert client.get(location).headers["Range"] == "0-9"


def test_content_length_not_matching_content_range_is_size_invalid(
    client: httpx.Client, repo: str
) -> None:
    location = start(client, repo)
    response = client.patch(location, content=b"12345", headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"
    response = client.put(
        location,
        params={"digest": sha256(b"12345")},
        content=b"12345",
        headers={"Content-Range": "0-3"},
    )
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"
    assert client.get(location).headers["Range"] == "0-0"


def test_streamed_chunk_shorter_than_its_range_is_size_invalid_and_keeps_nothing(
    client: httpx.Client, repo: str
) -> None:
    location = start(client, repo)
    response = client.patch(location, content=pieces(b"12345", 2), headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"
    assert client.get(location).headers["Range"] == "0-0"  # a chunk is all or nothing


@pytest.mark.parametrize("content_range", ["abc", "5", "-5", "bytes=a-b", "9-3"])
def test_malformed_content_range_is_refused(
    client: httpx.Client, repo: str, content_range: str
) -> None:
    location = start(client, repo)
    response = client.patch(location, content=b"x", headers={"Content-Range": content_range})
    assert response.status_code in (400, 416)
    assert error_code(response) in ("BLOB_UPLOAD_INVALID", "RANGE_INVALID")


def test_status_of_an_upload_is_204_with_its_range(client: httpx.Client, repo: str) -> None:
    location = start(client, repo)
    client.patch(location, content=b"x" * 300)
    response = client.get(location)
    assert response.status_code == 204
    assert response.headers["Range"] == "0-299"
    assert response.headers["Docker-Upload-UUID"] == location.rpartition("/")[2]
    assert response.headers["Location"] == location


# --- finishing: digests ------------------------------------------------------------------


def test_put_with_wrong_digest_makes_no_blob_and_ends_the_upload(
    client: httpx.Client, repo: str
) -> None:
    location = start(client, repo)
    client.patch(location, content=b"real content")
    wrong = sha256(b"claimed content")
    response = client.put(location, params={"digest": wrong})
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert client.head(f"/v2/{repo}/blobs/{wrong}").status_code == 404
    assert client.head(f"/v2/{repo}/blobs/{sha256(b'real content')}").status_code == 404
    assert error_code(client.get(location)) == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize(
    "params", [{}, {"digest": ""}, {"digest": "sha256:xyz"}, {"digest": "a:b"}]
)
def test_put_without_a_valid_digest_is_digest_invalid_and_keeps_the_upload(
    client: httpx.Client, repo: str, params: dict[str, str]
) -> None:
    location = start(client, repo)
    client.patch(location, content=b"kept")
    response = client.put(location, params=params)
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert client.get(location).headers["Range"] == "0-3"


# --- cancelling and unknown uploads ---------------------------------------------------------


def test_cancelled_upload_is_unknown_afterwards(
    client: httpx.Client, repo: str, storage_root: Path
) -> None:
    location = start(client, repo)
    client.patch(location, content=b"abc")
    response = client.delete(location)
    assert response.status_code == 204
    upload_id = location.rpartition("/")[2]
    assert not (storage_root / V2 / "repositories" / repo / "_uploads" / upload_id).exists()
    for response in (
        client.get(location),
        client.patch(location, content=b"more"),
        client.put(location, params={"digest": sha256(b"abc")}),
        client.delete(location),
    ):
        assert response.status_code == 404
        assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize(
    "upload_id", [str(uuid.uuid4()), "not-a-uuid", "%2e%2e", "..%2e", "_uploads", "A" * 36]
)
def test_unknown_or_malformed_upload_ids_are_blob_upload_unknown(
    client: httpx.Client, repo: str, upload_id: str
) -> None:
    location = f"/v2/{repo}/blobs/uploads/{upload_id}"
    for response in (
        client.get(location),
        client.patch(location, content=b"x"),
        client.put(location, params={"digest": sha256(b"x")}),
        client.delete(location),
    ):
        assert response.status_code == 404, response.text
        assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


def test_upload_is_not_reachable_from_another_repository(client: httpx.Client, repo: str) -> None:
    upload_id = start(client, repo).rpartition("/")[2]
    response = client.get(f"/v2/{repo}-other/blobs/uploads/{upload_id}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


# --- cross-repository mounts ----------------------------------------------------------------


def push(client: httpx.Client, repo: str, data: bytes) -> str:
    response = client.post(
        f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data
    )
    assert response.status_code == 201, response.text
    return sha256(data)


def test_mount_of_a_blob_linked_in_the_source_is_201(client: httpx.Client, repo: str) -> None:
    digest = push(client, f"{repo}-source", b"layer to share")
    response = client.post(
        f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": f"{repo}-source"}
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{repo}/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == b"layer to share"


@pytest.mark.parametrize("case", ["not linked", "bad digest", "bad source", "no from"])
def test_mount_that_cannot_be_done_falls_back_to_an_upload(
    client: httpx.Client, repo: str, case: str
) -> None:
    digest = push(client, f"{repo}-source", b"layer")
    params = {
        "not linked": {"mount": sha256(b"absent"), "from": f"{repo}-source"},
        "bad digest": {"mount": "sha256:zz", "from": f"{repo}-source"},
        "bad source": {"mount": digest, "from": "../Bad"},
        "no from": {"mount": digest},
    }[case]
    response = client.post(f"/v2/{repo}/blobs/uploads/", params=params)
    assert response.status_code == 202
    assert response.headers["Range"] == "0-0"
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404


# --- several processes on one storage ---------------------------------------------------------


@pytest.fixture()
def two_registries(tmp_path: Path) -> Iterator[tuple[RegistryProcess, RegistryProcess]]:
    """Two instances of a cluster: storage and database shared."""
    with cluster_of_two(tmp_path) as pair:
        yield pair


def test_upload_started_on_one_process_finishes_on_another(
    two_registries: tuple[RegistryProcess, RegistryProcess],
) -> None:
    first, second = two_registries
    data = os.urandom(3 << 20)
    with (
        httpx.Client(base_url=first.url, timeout=60) as a,
        httpx.Client(base_url=second.url, timeout=60) as b,
    ):
        location = start(a, "shared/app")
        assert (
            a.patch(location, content=data[:1000], headers={"Content-Range": "0-999"}).status_code
            == 202
        )
        response = b.patch(location, content=data[1000:2_000_000])
        assert response.headers["Range"] == "0-1999999"
        assert a.get(location).headers["Range"] == "0-1999999"
        response = b.put(location, params={"digest": sha256(data)}, content=data[2_000_000:])
        assert response.status_code == 201, response.text
        assert a.get(f"/v2/shared/app/blobs/{sha256(data)}").content == data


def test_client_that_disconnects_mid_chunk_can_resume_from_the_reported_range(
    client: httpx.Client, registry_server: RegistryProcess, repo: str
) -> None:
    data = os.urandom(3 << 20)
    location = start(client, repo)
    patches_before = _answered_patches(client)
    with socket.create_connection(("127.0.0.1", registry_server.port)) as raw:
        head = f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
        raw.sendall(head.encode() + data[: (2 << 20) + 500])  # then hang up mid-body
    for _ in range(400):  # the server counts a request once its handler has returned
        if _answered_patches(client) > patches_before:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the server never finished the interrupted PATCH")
    last = int(client.get(location).headers["Range"].partition("-")[2])
    offset = last + 1 if last else 0  # the server writes 1 MiB or more at a time
    assert offset <= (2 << 20) + 500
    rest = {"Content-Range": f"{offset}-{len(data) - 1}"}
    assert client.patch(location, content=data[offset:], headers=rest).status_code == 202
    response = client.put(location, params={"digest": sha256(data)})
    assert response.status_code == 201, response.text


def _answered_patches(client: httpx.Client) -> float:
    """PATCHes to upload URLs the server has finished, from its Prometheus counter."""
    lines = client.get("/metrics").text.splitlines()
    prefix = "hth_http_requests_total{"
    mine = [line for line in lines if line.startswith(prefix) and 'route="upload"' in line]
    return sum(float(line.rpartition(" ")[2]) for line in mine if 'method="PATCH"' in line)
