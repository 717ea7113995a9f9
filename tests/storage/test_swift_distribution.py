"""Layout compatibility with CNCF Distribution's own Swift driver, on one real Swift container:
what Distribution's registry uploads, our driver reads, and what our driver writes, it serves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from registry.storage import StorageDriver, create_driver
from testbed.processes import free_port, wait_http
from testbed.swift_node import SwiftNode

MiB = 1024 * 1024
V2 = "/docker/registry/v2"


@pytest.fixture()
def container(swift_node: SwiftNode) -> str:
    return swift_node.new_container()


@pytest.fixture()
def distribution(swift_node: SwiftNode, container: str, tmp_path: Path) -> Iterator[str]:
    """Distribution's registry on Swift storage (1 MiB segments, no redirects)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed: run scripts/test.sh")
    port = free_port()
    swift = {k: v for k, v in swift_node.settings(container).items() if k != "region"}
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "swift": {**swift, "chunksize": MiB},
            "delete": {"enabled": True},
            "redirect": {"disable": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    log = open(tmp_path / "distribution.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, "serve", str(tmp_path / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout=60.0, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture()
def swift(swift_node: SwiftNode, container: str) -> Iterator[StorageDriver]:
    driver = create_driver("swift", swift_node.settings(container, chunksize=MiB))
    yield driver
    driver.close()


def test_a_blob_uploaded_in_chunks_through_distribution_reads_through_our_driver(
    distribution: str, swift: StorageDriver
) -> None:
    data = os.urandom(3 * MiB + 5)
    digest = hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=distribution, timeout=60) as http:
        location = http.post("/v2/team/app/blobs/uploads/").headers["Location"]
        for start in range(0, len(data), 2 * MiB):
            piece = data[start : start + 2 * MiB]
            headers = {"Content-Range": f"{start}-{start + len(piece) - 1}"}
            location = http.patch(location, content=piece, headers=headers).headers["Location"]
        separator = "&" if "?" in location else "?"
        done = http.put(f"{location}{separator}digest=sha256:{digest}")
        assert done.status_code == 201, done.text
    blob = f"{V2}/blobs/sha256/{digest[:2]}/{digest}/data"
    assert swift.stat(blob).size == len(data)
    assert swift.get_content(blob) == data
    link = f"{V2}/repositories/team/app/_layers/sha256/{digest}/link"
    assert swift.get_content(link) == f"sha256:{digest}".encode()
    walked = {info.path for info in swift.walk(V2) if not info.is_dir}
    assert {blob, link} <= walked


def test_a_blob_written_by_our_driver_is_served_by_distribution(
    distribution: str, swift: StorageDriver
) -> None:
    data = os.urandom(2 * MiB + 77)
    digest = hashlib.sha256(data).hexdigest()
    with swift.writer(f"{V2}/blobs/sha256/{digest[:2]}/{digest}/data") as writer:
        writer.write(data[: MiB + 3])  # more than one segment, as Distribution writes them
        writer.write(data[MiB + 3 :])
        writer.commit()
    link = f"{V2}/repositories/team/ours/_layers/sha256/{digest}/link"
    swift.put_content(link, f"sha256:{digest}".encode())
    reply = httpx.get(f"{distribution}/v2/team/ours/blobs/sha256:{digest}", timeout=60)
    assert reply.status_code == 200
    assert hashlib.sha256(reply.content).hexdigest() == digest
