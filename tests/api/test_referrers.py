"""GET /v2/<name>/referrers/<digest> and the `subject` handling of manifest pushes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from registry import layout
from registry.storage import PathNotFoundError, StorageDriver
from tests.support.registry_content import (
    OCI_INDEX,
    OCI_MANIFEST,
    artifact_manifest,
    descriptor,
    error_code,
    filesystem_driver,
    image_manifest,
    push,
    push_ok,
    sha256,
    unique_repo,
)

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"


@pytest.fixture()
def storage(storage_root: Path) -> StorageDriver:
    return filesystem_driver(storage_root)


@pytest.fixture()
def repo() -> str:
    return unique_repo("referrers")


def push_subject(client: httpx.Client, storage: StorageDriver, repo: str) -> dict[str, Any]:
    _, body = push_ok(client, repo, "image", image_manifest(storage, repo))
    return descriptor(OCI_MANIFEST, body)


def referrers(client: httpx.Client, repo: str, subject: str, **params: str) -> httpx.Response:
    return client.get(f"/v2/{repo}/referrers/{subject}", params=params)


def test_push_with_subject_answers_oci_subject(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    response = push(client, repo, "sbom", artifact_manifest(storage, repo, SBOM, subject))
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == subject["digest"]


def test_referrers_lists_descriptors_of_manifests_naming_the_subject(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    annotations = {"org.example.format": "spdx"}
    sbom = artifact_manifest(storage, repo, SBOM, subject, annotations=annotations)
    sbom_digest, sbom_body = push_ok(client, repo, "sbom", sbom)
    response = referrers(client, repo, subject["digest"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    assert response.json() == {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sbom_digest,
                "size": len(sbom_body),
                "artifactType": SBOM,
                "annotations": annotations,
            }
        ],
    }
    assert "OCI-Filters-Applied" not in response.headers


def test_artifact_type_falls_back_to_the_config_media_type(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    signed = image_manifest(storage, repo, subject=subject)
    push_ok(client, repo, "sig", signed)
    (entry,) = referrers(client, repo, subject["digest"]).json()["manifests"]
    assert entry["artifactType"] == signed["config"]["mediaType"]
    assert "annotations" not in entry


def test_index_referrer_without_artifact_type_has_none(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "subject": subject}
    digest, _ = push_ok(client, repo, "idx", index)
    (entry,) = referrers(client, repo, subject["digest"]).json()["manifests"]
    assert entry["digest"] == digest
    assert entry["mediaType"] == OCI_INDEX
    assert "artifactType" not in entry


def test_artifact_type_filter_applies_and_says_so(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    sbom_digest, _ = push_ok(client, repo, "sbom", artifact_manifest(storage, repo, SBOM, subject))
    push_ok(client, repo, "sig", artifact_manifest(storage, repo, SIGNATURE, subject))
    assert len(referrers(client, repo, subject["digest"]).json()["manifests"]) == 2
    response = referrers(client, repo, subject["digest"], artifactType=SBOM)
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in response.json()["manifests"]] == [sbom_digest]


def test_subject_need_not_exist_when_the_referrer_is_pushed(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = descriptor(OCI_MANIFEST, b"pushed later, or never")
    digest, _ = push_ok(client, repo, "early", artifact_manifest(storage, repo, SBOM, subject))
    manifests = referrers(client, repo, subject["digest"]).json()["manifests"]
    assert [m["digest"] for m in manifests] == [digest]


def test_unknown_subject_or_repository_answers_an_empty_index(
    client: httpx.Client, repo: str
) -> None:
    for name in (repo, unique_repo("nowhere")):
        response = referrers(client, name, sha256(b"no such subject"))
        assert response.status_code == 200
        assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_invalid_digest_is_400(client: httpx.Client, repo: str) -> None:
    response = referrers(client, repo, "sha256:zzz")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_deleting_a_referrer_removes_it_from_the_index(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    digest, _ = push_ok(client, repo, "sbom", artifact_manifest(storage, repo, SBOM, subject))
    assert client.delete(f"/v2/{repo}/manifests/{digest}").status_code == 202
    assert referrers(client, repo, subject["digest"]).json()["manifests"] == []
    with pytest.raises(PathNotFoundError):
        storage.stat(layout.referrer_link(repo, subject["digest"], digest))


def test_deleting_only_a_tag_keeps_the_referrer(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    digest, _ = push_ok(client, repo, "sbom", artifact_manifest(storage, repo, SBOM, subject))
    assert client.delete(f"/v2/{repo}/manifests/sbom").status_code == 202
    manifests = referrers(client, repo, subject["digest"]).json()["manifests"]
    assert [m["digest"] for m in manifests] == [digest]


def test_referrers_are_scoped_to_their_repository(
    client: httpx.Client, storage: StorageDriver, repo: str
) -> None:
    subject = push_subject(client, storage, repo)
    other = unique_repo("referrers")
    push_ok(client, other, "sbom", artifact_manifest(storage, other, SBOM, subject))
    assert referrers(client, repo, subject["digest"]).json()["manifests"] == []
    assert len(referrers(client, other, subject["digest"]).json()["manifests"]) == 1
