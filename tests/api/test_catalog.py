"""GET /v2/_catalog on a registry of its own (the shared one holds other tests' repositories)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from registry import layout
from registry.content.repositories import mark_deleted
from testbed.processes import RegistryProcess
from tests.support.registry_content import (
    error_code,
    filesystem_driver,
    image_manifest,
    push_ok,
)

# Component-wise order, as Distribution's catalog: "a/b" sorts before "a-b".
REPOSITORIES = ["a", "a/b", "a/b/c", "a-b", "b.c/d", "z"]


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    server = RegistryProcess(tmp_path_factory.mktemp("catalog")).start()
    storage = filesystem_driver(server.storage_root)
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        for name in reversed(REPOSITORIES):
            push_ok(http, name, "latest", image_manifest(storage, name))
    # Neither of these is a repository: only blobs, and an empty namespace folder.
    storage.put_content(layout.layer_link("blobs-only", "sha256:" + "0" * 64), b"x")
    (server.storage_root / "docker/registry/v2/repositories/empty/ns").mkdir(parents=True)
    yield server
    server.stop()


@pytest.fixture()
def catalog(catalog_server: RegistryProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=catalog_server.url, timeout=30.0) as http:
        yield http


def test_catalog_lists_repositories_with_manifests_in_distributions_order(
    catalog: httpx.Client,
) -> None:
    response = catalog.get("/v2/_catalog")
    assert response.status_code == 200
    assert response.json() == {"repositories": REPOSITORIES}
    assert "Link" not in response.headers


def test_n_limits_the_page_and_links_to_the_next(catalog: httpx.Client) -> None:
    response = catalog.get("/v2/_catalog", params={"n": 2})
    assert response.json() == {"repositories": ["a", "a/b"]}
    assert response.headers["Link"] == '</v2/_catalog?n=2&last=a%2Fb>; rel="next"'


def test_following_links_walks_every_repository_once(catalog: httpx.Client) -> None:
    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=1"
    while url:
        response = catalog.get(url)
        seen.extend(response.json()["repositories"])
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert seen == REPOSITORIES


@pytest.mark.parametrize(
    ("last", "expected"),
    [("a", REPOSITORIES[1:]), ("a/b", REPOSITORIES[2:]), ("a/zzz", REPOSITORIES[3:]), ("y", ["z"])],
)
def test_last_starts_after_the_given_name(
    catalog: httpx.Client, last: str, expected: list[str]
) -> None:
    response = catalog.get("/v2/_catalog", params={"last": last})
    assert response.json()["repositories"] == expected


def test_n_zero_answers_an_empty_list(catalog: httpx.Client) -> None:
    response = catalog.get("/v2/_catalog", params={"n": 0})
    assert response.json() == {"repositories": []}
    assert "Link" not in response.headers


@pytest.mark.parametrize("n", ["-1", "many", "1001"])
def test_invalid_or_too_large_n_is_pagination_number_invalid(catalog: httpx.Client, n: str) -> None:
    response = catalog.get("/v2/_catalog", params={"n": n})
    assert response.status_code == 400
    assert error_code(response) == "PAGINATION_NUMBER_INVALID"


def test_soft_deleted_repositories_are_not_listed(tmp_path: Path) -> None:
    server = RegistryProcess(tmp_path).start()
    try:
        storage = filesystem_driver(server.storage_root)
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            for name in ("keep", "gone"):
                push_ok(http, name, "latest", image_manifest(storage, name))
            mark_deleted(storage, "gone")
            # Another process wrote the marker: the server sees it within its refresh period.
            listed = _eventually(http, lambda names: "gone" not in names)
        assert listed == ["keep"]
    finally:
        server.stop()


def _eventually(http: httpx.Client, done: Callable[[list[str]], bool]) -> list[str]:
    """The catalog once `done` holds for it, polling for up to ten seconds."""
    names: list[str] = []
    for _ in range(100):
        names = http.get("/v2/_catalog").json()["repositories"]
        if done(names):
            break
        time.sleep(0.1)
    return names
