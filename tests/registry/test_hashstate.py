"""Resumable SHA-256 in Go's encoding: round trips, and states Distribution itself wrote."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import yaml

from registry.hashstate import HashStateError, ResumableSha256
from testbed.distribution import DistributionProcess
from testbed.processes import RegistryProcess, free_port, wait_http

DATA = os.urandom(5000)


@pytest.mark.parametrize("cut", [0, 1, 55, 63, 64, 65, 127, 128, 1000, 4999])
def test_state_saved_at_any_length_resumes_to_the_same_digest(cut: int) -> None:
    first = ResumableSha256()
    first.update(DATA[:cut])
    resumed = ResumableSha256.unmarshal(first.marshal())
    assert resumed.length == cut
    resumed.update(DATA[cut:])
    assert resumed.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_marshal_follows_gos_layout() -> None:
    hasher = ResumableSha256()
    hasher.update(b"abc" * 30)  # 90 bytes: one block hashed, 26 bytes buffered
    state = hasher.marshal()
    assert len(state) == 108
    assert state[:4] == b"sha\x03"
    assert state[36:62] == (b"abc" * 30)[64:]
    assert state[62:100] == b"\0" * 38
    assert struct.unpack(">Q", state[100:])[0] == 90


def test_hexdigest_does_not_disturb_the_running_state() -> None:
    hasher = ResumableSha256()
    hasher.update(b"part one")
    hasher.hexdigest()
    hasher.update(b" and two")
    assert hasher.hexdigest() == hashlib.sha256(b"part one and two").hexdigest()


@pytest.mark.parametrize("state", [b"", b"sha\x03" + b"\0" * 10, b"md5\x01" + b"\0" * 104])
def test_foreign_or_truncated_states_are_refused(state: bytes) -> None:
    with pytest.raises(HashStateError):
        ResumableSha256.unmarshal(state)


@pytest.mark.e2e
def test_states_written_by_distribution_resume_to_the_right_digest(tmp_path: Path) -> None:
    """Distribution's PATCH leaves hashstates/sha256/<offset>; resuming one here and hashing
    the rest must give the digest of the whole blob."""
    storage = tmp_path / "storage"
    distribution = DistributionProcess(tmp_path / "distribution", storage).start()
    try:
        upload_id = _patch_chunks(distribution.url, [DATA[:100], DATA[100:1333]])
    finally:
        distribution.stop()
    states = storage / "docker/registry/v2/repositories/interop/_uploads" / upload_id
    for offset in (100, 1333):
        state = (states / f"hashstates/sha256/{offset}").read_bytes()
        resumed = ResumableSha256.unmarshal(state)
        assert resumed.length == offset
        resumed.update(DATA[offset:])
        assert resumed.hexdigest() == hashlib.sha256(DATA).hexdigest()


def _patch_chunks(base_url: str, chunks: list[bytes]) -> str:
    """PATCH each chunk to a new upload, following Distribution's `_state`-carrying Location."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        response = http.post("/v2/interop/blobs/uploads/")
        assert response.status_code == 202
        upload_id = response.headers["Docker-Upload-UUID"]
        for chunk in chunks:
            location = urljoin(base_url, response.headers["Location"])
            response = http.patch(location, content=chunk)
            assert response.status_code == 202, response.text
        return upload_id


@pytest.mark.e2e
def test_distribution_finishes_an_upload_we_started(tmp_path: Path) -> None:
    """The reverse: chunks PATCHed to our registry, the last chunk PUT to Distribution on the
    same tree. Distribution resumes from our hash state and accepts the digest."""
    storage = tmp_path / "storage"
    config = {"docker_registry": {"storage_settings": {"rootdirectory": str(storage)}}}
    ours = RegistryProcess(tmp_path / "ours", config).start()
    try:
        with httpx.Client(base_url=ours.url, timeout=30) as http:
            location = http.post("/v2/interop/blobs/uploads/").headers["Location"]
            for chunk in (DATA[:100], DATA[100:1333]):
                assert http.patch(location, content=chunk).status_code == 202
    finally:
        ours.stop()
    upload_id = location.rpartition("/")[2]
    secret = "interop-secret"
    with _secret_distribution(tmp_path / "distribution", storage, secret) as url:
        state = _upload_state_token(secret, "interop", upload_id, 1333)
        digest = f"sha256:{hashlib.sha256(DATA).hexdigest()}"
        response = httpx.put(
            f"{url}/v2/interop/blobs/uploads/{upload_id}",
            params={"_state": state, "digest": digest},
            content=DATA[1333:],
            timeout=30,
        )
        assert response.status_code == 201, response.text
        assert httpx.get(f"{url}/v2/interop/blobs/{digest}", timeout=30).content == DATA


def _upload_state_token(secret: str, name: str, upload_id: str, offset: int) -> str:
    """Distribution's signed `_state` query value (registry/handlers/hmac.go)."""
    state = {"Name": name, "UUID": upload_id, "Offset": offset, "StartedAt": _GO_ZERO_TIME}
    payload = json.dumps(state, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac + payload).decode()


_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


@contextmanager
def _secret_distribution(workdir: Path, storage: Path, secret: str) -> Iterator[str]:
    """Distribution with a known `http.secret`, so the test can sign upload states."""
    workdir.mkdir(parents=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secret},
    }
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    with open(workdir / "distribution.log", "ab") as log:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(workdir / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
