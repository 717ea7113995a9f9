"""GET /v2/ and the routing of unknown paths, against a running server."""

from __future__ import annotations

import httpx


def test_version_check_answers_with_api_version_header(client: httpx.Client) -> None:
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_invalid_repository_name_is_name_invalid(client: httpx.Client) -> None:
    response = client.get("/v2/Upper/manifests/latest")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "NAME_INVALID"


def test_unknown_endpoint_is_an_oci_error(client: httpx.Client) -> None:
    response = client.get("/v2/foo/unknown/thing")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_method_not_allowed_is_unsupported(client: httpx.Client) -> None:
    response = client.post("/v2/foo/tags/list")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"
