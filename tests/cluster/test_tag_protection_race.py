"""Pushes racing for one protected tag across two instances of a cluster (storage and
database shared): exactly one creates it, every other push, then and later, is refused."""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess, cluster_of_two
from testbed.pusher import OCI_MANIFEST, digest_of
from testbed.task_platform import postgres_database
from tests.support.registry_content import encode

pytestmark = pytest.mark.integration

PUSHERS = 8
TAG = "v1.0.0"
Result = tuple[int, str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RegistryProcess, RegistryProcess]]:
    if request.param == "sqlite":
        with cluster_of_two(tmp_path) as pair:
            yield pair
        return
    with postgres_database() as url, cluster_of_two(tmp_path, {"database": {"url": url}}) as pair:
        yield pair


def prepared_manifest(http: httpx.Client, name: str) -> bytes:
    """Upload a random image's blobs; its manifest, ready to PUT."""
    layer = os.urandom(2048)
    config = json.dumps({"architecture": "amd64", "os": "linux", "salt": uuid.uuid4().hex})
    blobs = {digest_of(layer): layer, digest_of(config.encode()): config.encode()}
    for digest, data in blobs.items():
        url = f"/v2/{name}/blobs/uploads/"
        response = http.post(url, params={"digest": digest}, content=data)
        assert response.status_code == 201, response.text
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config.encode()),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest_of(layer),
                "size": len(layer),
            }
        ],
    }
    return encode(document)


def race_push(url: str, name: str, barrier: Barrier, results: Queue[Result]) -> None:
    """In a child process: prepare an image, wait for every pusher, then PUT it to TAG;
    reports (status, the digest pushed, the error code when refused)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        body = prepared_manifest(http, name)
        barrier.wait(timeout=120)
        headers = {"Content-Type": OCI_MANIFEST}
        response = http.put(f"/v2/{name}/manifests/{TAG}", content=body, headers=headers)
    code = response.json()["errors"][0]["code"] if response.status_code >= 400 else ""
    results.put((response.status_code, digest_of(body), code))


def race(urls: list[str], name: str) -> list[Result]:
    """PUSHERS processes, alternating between the instances, PUT their images at once."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PUSHERS)
    results: Queue[Result] = context.Queue()
    pushers = [
        context.Process(target=race_push, args=(urls[n % 2], name, barrier, results))
        for n in range(PUSHERS)
    ]
    for pusher in pushers:
        pusher.start()
    try:
        return [results.get(timeout=300) for _ in pushers]
    finally:
        for pusher in pushers:
            pusher.join(timeout=30)
            if pusher.is_alive():
                pusher.kill()


def current_digest(url: str, name: str) -> str:
    response = httpx.head(f"{url}/v2/{name}/manifests/{TAG}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text
    return response.headers["Docker-Content-Digest"]


def test_racing_pushes_create_a_protected_tag_once_and_never_move_it(
    cluster: tuple[RegistryProcess, RegistryProcess],
) -> None:
    first, second = cluster
    name = f"race/{uuid.uuid4().hex[:8]}"
    rule = {"name": "race", "repositories": "race/**", "tags": r"v\d+\.\d+\.\d+"}
    assert httpx.post(f"{first.url}/api/v1/tag-protections", json=rule).status_code == 201
    urls = [first.url, second.url]

    created = race(urls, name)

    winners = [digest for status, digest, _ in created if status == 201]
    assert len(winners) == 1, created
    refused = [(status, code) for status, _, code in created if status != 201]
    assert refused == [(412, "DENIED")] * (PUSHERS - 1)
    assert current_digest(first.url, name) == current_digest(second.url, name) == winners[0]

    moves = race(urls, name)

    assert [(status, code) for status, _, code in moves] == [(412, "DENIED")] * PUSHERS
    assert current_digest(first.url, name) == current_digest(second.url, name) == winners[0]
