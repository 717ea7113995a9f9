"""Blob HEAD/GET/DELETE over HTTP against a running registry: headers, ranges, errors."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from api.app import create_app
from registry import layout
from registry.config import parse_settings
from registry.storage.base import CheckedDriver

DATA = os.urandom(3 * (1 << 20) + 12345)  # several of the server's 1 MiB read pieces
DIGEST = f"sha256:{hashlib.sha256(DATA).hexdigest()}"


@pytest.fixture()
def repo(client: httpx.Client) -> str:
    name = f"blobs/r{uuid.uuid4().hex[:12]}"
    response = client.post(f"/v2/{name}/blobs/uploads/", params={"digest": DIGEST}, content=DATA)
    assert response.status_code == 201, response.text
    return name


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def test_head_describes_the_blob_without_a_body(client: httpx.Client, repo: str) -> None:
    response = client.head(f"/v2/{repo}/blobs/{DIGEST}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Docker-Content-Digest"] == DIGEST
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["ETag"] == f'"{DIGEST}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_get_streams_the_whole_blob(client: httpx.Client, repo: str) -> None:
    response = client.get(f"/v2/{repo}/blobs/{DIGEST}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Docker-Content-Digest"] == DIGEST
    assert response.content == DATA


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        (f"bytes=1048570-{2 << 20}", 1048570, 2 << 20),  # across read pieces
        ("bytes=3000000-", 3000000, len(DATA) - 1),
        ("bytes=-500", len(DATA) - 500, len(DATA) - 1),
        (f"bytes=10-{len(DATA) * 2}", 10, len(DATA) - 1),  # end clipped to the size
        (f"bytes=-{len(DATA) * 2}", 0, len(DATA) - 1),
    ],
)
def test_single_range_is_206_with_content_range(
    client: httpx.Client, repo: str, header: str, start: int, end: int
) -> None:
    response = client.get(f"/v2/{repo}/blobs/{DIGEST}", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.content == DATA[start : end + 1]


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={len(DATA)}-",
        f"bytes={len(DATA) + 5}-{len(DATA) + 9}",
        "bytes=-0",
        "bytes=x-y",
        "bytes=5-2",
    ],
)
def test_unsatisfiable_range_is_416_with_the_size(
    client: httpx.Client, repo: str, header: str
) -> None:
    response = client.get(f"/v2/{repo}/blobs/{DIGEST}", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5"])
def test_ranges_we_do_not_serve_get_the_whole_blob(
    client: httpx.Client, repo: str, header: str
) -> None:
    response = client.get(f"/v2/{repo}/blobs/{DIGEST}", headers={"Range": header})
    assert response.status_code == 200
    assert response.content == DATA


def test_matching_if_none_match_is_304(client: httpx.Client, repo: str) -> None:
    response = client.get(f"/v2/{repo}/blobs/{DIGEST}", headers={"If-None-Match": f'"{DIGEST}"'})
    assert response.status_code == 304
    assert response.content == b""


def test_blob_not_linked_into_the_repository_is_unknown(client: httpx.Client, repo: str) -> None:
    other = f"{repo}-other"
    response = client.get(f"/v2/{other}/blobs/{DIGEST}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UNKNOWN"
    head = client.head(f"/v2/{other}/blobs/{DIGEST}")
    assert head.status_code == 404
    assert head.content == b""


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "sha256:" + "G" * 64,
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "latest",
        "%2e%2e",
    ],
)
def test_malformed_digests_are_digest_invalid(client: httpx.Client, repo: str, digest: str) -> None:
    for response in (
        client.get(f"/v2/{repo}/blobs/{digest}"),
        client.delete(f"/v2/{repo}/blobs/{digest}"),
    ):
        assert response.status_code == 400
        assert error_code(response) == "DIGEST_INVALID"
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 400


def test_delete_unlinks_the_blob_but_keeps_its_data(
    client: httpx.Client, repo: str, storage_root: Path
) -> None:
    keeper = f"{repo}-keeper"
    mount = {"mount": DIGEST, "from": repo}
    assert client.post(f"/v2/{keeper}/blobs/uploads/", params=mount).status_code == 201
    response = client.delete(f"/v2/{repo}/blobs/{DIGEST}")
    assert response.status_code == 202
    assert client.head(f"/v2/{repo}/blobs/{DIGEST}").status_code == 404
    assert (storage_root / layout.blob_data(DIGEST).lstrip("/")).stat().st_size == len(DATA)
    assert client.get(f"/v2/{keeper}/blobs/{DIGEST}").content == DATA
    again = client.delete(f"/v2/{repo}/blobs/{DIGEST}")
    assert again.status_code == 404
    assert error_code(again) == "BLOB_UNKNOWN"


def test_delete_of_a_never_linked_blob_is_blob_unknown(client: httpx.Client) -> None:
    digest = f"sha256:{hashlib.sha256(b'never pushed').hexdigest()}"
    response = client.delete(f"/v2/blobs/nothing-here/blobs/{digest}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UNKNOWN"


# --- redirects to cloud storage -------------------------------------------------------------
# The filesystem driver serves everything itself; this stand-in answers redirect_url as the
# cloud drivers do (a signed URL), to check what the handler does with one.


class RedirectingDriver(CheckedDriver):
    def redirect_url(self, path: str, method: str = "GET") -> str | None:
        return f"https://storage.example{path}?sig=1"


def redirecting_app(tmp_path: Path) -> FastAPI:
    """The app in this process, holding one blob, its driver then wrapped to redirect."""
    settings = parse_settings(
        {"docker_registry": {"storage_settings": {"rootdirectory": str(tmp_path / "storage")}}}
    )
    app = create_app(settings)
    params = {"digest": DIGEST}
    response = call(app, "POST", "/v2/cloud/blobs/uploads/", params=params, content=DATA)
    assert response.status_code == 201
    app.state.hth.driver = RedirectingDriver(app.state.hth.driver)
    return app


def call(app: ASGIApp, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(send())


def test_get_redirects_when_the_driver_offers_a_url(tmp_path: Path) -> None:
    response = call(redirecting_app(tmp_path), "GET", f"/v2/cloud/blobs/{DIGEST}")
    assert response.status_code == 307
    assert response.headers["Location"] == (
        f"https://storage.example{layout.blob_data(DIGEST)}?sig=1"
    )


def test_head_is_answered_by_the_registry_even_with_redirects(tmp_path: Path) -> None:
    response = call(redirecting_app(tmp_path), "HEAD", f"/v2/cloud/blobs/{DIGEST}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(DATA))
