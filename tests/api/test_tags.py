"""GET /v2/<name>/tags/list against a running registry: order, pagination, errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess
from tests.support.registry_content import (
    encode,
    error_code,
    filesystem_driver,
    image_manifest,
    push_ok,
    unique_repo,
)

TAGS = ["v10", "A", "latest", "v2", "1.0", "_x", "v1"]


@pytest.fixture(scope="module")
def tagged_repo(registry_server: RegistryProcess) -> str:
    """One repository with the tags in TAGS, all on one manifest."""
    repo = unique_repo("tags")
    body = encode(image_manifest(filesystem_driver(registry_server.storage_root), repo))
    with httpx.Client(base_url=registry_server.url, timeout=30.0) as http:
        for tag in TAGS:
            push_ok(http, repo, tag, body)
    return repo


def test_tags_are_listed_in_lexical_order(client: httpx.Client, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": tagged_repo, "tags": sorted(TAGS)}
    assert response.headers["Content-Type"] == "application/json"
    assert "Link" not in response.headers


def test_n_limits_the_page_and_links_to_the_next(client: httpx.Client, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": 3})
    first = sorted(TAGS)[:3]
    assert response.json()["tags"] == first
    expected = f'</v2/{tagged_repo}/tags/list?n=3&last={first[-1]}>; rel="next"'
    assert response.headers["Link"] == expected


def test_following_links_walks_every_tag_once(client: httpx.Client, tagged_repo: str) -> None:
    seen: list[str] = []
    url: str | None = f"/v2/{tagged_repo}/tags/list?n=2"
    while url:
        response = client.get(url)
        seen.extend(response.json()["tags"])
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert seen == sorted(TAGS)


def test_last_starts_after_the_given_tag(client: httpx.Client, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"last": "latest"})
    assert response.json()["tags"] == [t for t in sorted(TAGS) if t > "latest"]
    assert "Link" not in response.headers


def test_last_page_has_no_link(client: httpx.Client, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": len(TAGS)})
    assert response.json()["tags"] == sorted(TAGS)
    assert "Link" not in response.headers


def test_n_zero_answers_an_empty_list_without_link(client: httpx.Client, tagged_repo: str) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": 0})
    assert response.json()["tags"] == []
    assert "Link" not in response.headers


@pytest.mark.parametrize("n", ["-1", "ten", "1.5"])
def test_invalid_n_is_pagination_number_invalid(
    client: httpx.Client, tagged_repo: str, n: str
) -> None:
    response = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": n})
    assert response.status_code == 400
    assert error_code(response) == "PAGINATION_NUMBER_INVALID"


def test_unknown_repository_is_name_unknown(client: httpx.Client) -> None:
    response = client.get(f"/v2/{unique_repo('nowhere')}/tags/list")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


def test_repository_whose_tags_were_all_deleted_lists_none(
    client: httpx.Client, storage_root: Path
) -> None:
    repo = unique_repo("tags")
    push_ok(client, repo, "only", image_manifest(filesystem_driver(storage_root), repo))
    assert client.delete(f"/v2/{repo}/manifests/only").status_code == 202
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": repo, "tags": []}
