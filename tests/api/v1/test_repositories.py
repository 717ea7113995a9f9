"""/api/v1/repositories against a running registry: listing, soft delete, and what GC frees.

The module runs its own registry process: its GC test collects the whole storage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from registry import layout
from registry.maintenance.gc.collect import GCOptions, collect_garbage
from testbed.processes import RegistryProcess
from tests.support.registry_content import (
    error_code,
    filesystem_driver,
    image_manifest,
    push_ok,
    unique_repo,
)


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    server = RegistryProcess(tmp_path_factory.mktemp("repositories-api")).start()
    yield server
    server.stop()


def _pushed(client: httpx.Client, storage_root: Path, name: str, tag: str = "1.0") -> str:
    document = image_manifest(filesystem_driver(storage_root), name)
    digest, _ = push_ok(client, name, tag, document)
    return digest


def _listed(client: httpx.Client, **params: str) -> dict[str, bool]:
    items: dict[str, bool] = {}
    cursor = None
    while True:
        page = client.get(
            "/api/v1/repositories", params=params | {"cursor": cursor} if cursor else params
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items |= {item["name"]: item["deleted"] for item in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_list_shows_pushed_repositories(client: httpx.Client, storage_root: Path) -> None:
    name = unique_repo("listed")
    _pushed(client, storage_root, name)

    assert _listed(client).get(name) is False


def test_list_pages_with_a_cursor(client: httpx.Client, storage_root: Path) -> None:
    names = {unique_repo("paged") for _ in range(3)}
    for name in names:
        _pushed(client, storage_root, name)

    assert names <= set(_listed(client, limit="1"))


def test_delete_stops_serving_the_repository(client: httpx.Client, storage_root: Path) -> None:
    name = unique_repo("deleted")
    digest = _pushed(client, storage_root, name)

    response = client.delete(f"/api/v1/repositories/{name}")

    assert response.status_code == 202
    assert response.json()["name"] == name and response.json()["deleted"] is True
    for answer in (
        client.get(f"/v2/{name}/manifests/1.0"),
        client.get(f"/v2/{name}/manifests/{digest}"),
        client.get(f"/v2/{name}/tags/list"),
    ):
        assert answer.status_code == 404 and error_code(answer) == "NAME_UNKNOWN"
    assert client.head(f"/v2/{name}/manifests/1.0").status_code == 404
    assert name not in _listed(client)
    assert _listed(client, include_deleted="true")[name] is True


def test_push_to_a_deleted_repository_is_refused(client: httpx.Client, storage_root: Path) -> None:
    name = unique_repo("refused")
    _pushed(client, storage_root, name)
    client.delete(f"/api/v1/repositories/{name}")

    started = client.post(f"/v2/{name}/blobs/uploads/")
    manifest = client.put(f"/v2/{name}/manifests/2.0", content=b"{}")

    assert started.status_code == 404 and error_code(started) == "NAME_UNKNOWN"
    assert manifest.status_code == 404 and error_code(manifest) == "NAME_UNKNOWN"


def test_delete_of_unknown_or_deleted_repository_is_404(
    client: httpx.Client, storage_root: Path
) -> None:
    name = unique_repo("twice")
    _pushed(client, storage_root, name)
    assert client.delete(f"/api/v1/repositories/{name}").status_code == 202

    again = client.delete(f"/api/v1/repositories/{name}")
    unknown = client.delete(f"/api/v1/repositories/{unique_repo('never')}")

    assert again.status_code == 404 and "not found" in again.json()["detail"]
    assert unknown.status_code == 404 and isinstance(unknown.json()["detail"], str)


def test_delete_of_invalid_name_is_400(client: httpx.Client) -> None:
    response = client.delete("/api/v1/repositories/Not/Valid")

    assert response.status_code == 400 and "invalid repository name" in response.json()["detail"]


def test_gc_frees_a_deleted_repository_and_its_name(
    client: httpx.Client, storage_root: Path
) -> None:
    name = unique_repo("freed")
    _pushed(client, storage_root, name)
    client.delete(f"/api/v1/repositories/{name}")

    result = collect_garbage(filesystem_driver(storage_root), GCOptions(grace_period=timedelta(0)))

    assert name in result.repositories_deleted
    assert name not in _listed(client, include_deleted="true")
    # The server re-reads the deleted names within a second; then the name takes pushes again.
    deadline = time.monotonic() + 20
    while client.post(f"/v2/{name}/blobs/uploads/").status_code != 202:
        assert time.monotonic() < deadline, "the name was not served again after GC"
        time.sleep(0.2)
    digest = _pushed(client, storage_root, name, "2.0")
    assert client.get(f"/v2/{name}/manifests/{digest}").status_code == 200
    assert client.get(f"/v2/{name}/manifests/1.0").status_code == 404


def test_another_instance_refuses_pushes_within_a_second_and_pulls_soon_after(
    tmp_path: Path,
) -> None:
    """Writes wait for a fresh view of the deletes; reads answer from the view they have and
    re-read it in the background (docs/gc.md). Thousands of earlier deletes make each listing
    slow enough that a write which did not wait would answer from the old view."""
    storage = tmp_path / "storage"
    driver = filesystem_driver(storage)
    for index in range(3000):
        driver.put_content(layout.deleted_marker(f"gone/{index}"), b"{}")
    shared = {"docker_registry": {"storage_settings": {"rootdirectory": str(storage)}}}
    here = RegistryProcess(tmp_path / "here", config=shared).start()
    other = RegistryProcess(tmp_path / "other", config=shared).start()
    name = unique_repo("elsewhere")
    try:
        with httpx.Client(base_url=here.url) as client, httpx.Client(base_url=other.url) as there:
            _pushed(client, storage, name)
            assert there.get(f"/v2/{name}/manifests/1.0").status_code == 200
            assert client.delete(f"/api/v1/repositories/{name}").status_code == 202
            time.sleep(1.1)  # the other instance's view is now stale

            pushed = there.post(f"/v2/{name}/blobs/uploads/")
            deadline = time.monotonic() + 10
            while there.get(f"/v2/{name}/tags/list").status_code == 200:
                assert time.monotonic() < deadline, "the delete was never seen by reads"
                time.sleep(0.1)
            pulled = there.get(f"/v2/{name}/manifests/1.0")
    finally:
        here.stop()
        other.stop()

    assert pushed.status_code == 404 and error_code(pushed) == "NAME_UNKNOWN"
    assert pulled.status_code == 404 and error_code(pulled) == "NAME_UNKNOWN"
