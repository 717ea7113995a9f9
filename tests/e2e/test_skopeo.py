"""skopeo pushes, pulls, lists and deletes through our registry; digests survive the round trip."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess
from tests.e2e.conftest import SourceImages
from tests.support.clients import ClientError, Skopeo
from tests.support.images import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    read_dir_copy,
    read_oci_copy,
)

pytestmark = pytest.mark.e2e


def test_oci_image_round_trips_with_identical_digests(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    ref = f"docker://{registry_server.host}/e2e/oci-single:1.0"
    image = source_images.single

    skopeo.copy(source_images.ref("single"), ref)

    assert skopeo.inspect_digest(ref) == image.manifest.digest
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == image.manifest.digest
    assert pulled.media_type == OCI_MANIFEST
    assert set(pulled.blobs) == image.blob_digests


def test_oci_image_pulls_into_an_oci_layout(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    ref = f"docker://{registry_server.host}/e2e/oci-layout-pull:1.0"
    skopeo.copy(source_images.ref("single"), ref)

    skopeo.copy(ref, f"oci:{tmp_path / 'pulled'}:copy")

    pulled = read_oci_copy(tmp_path / "pulled", "copy")
    assert pulled.digest == source_images.single.manifest.digest
    assert set(pulled.blobs) == source_images.single.blob_digests


def test_docker_schema2_push_round_trips_with_identical_digests(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    ref = f"docker://{registry_server.host}/e2e/v2s2:1.0"
    image = source_images.single

    skopeo.copy(source_images.ref("single"), ref, "--format", "v2s2")

    raw = skopeo.inspect_raw(ref)
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == DOCKER_CONFIG
    assert {layer["mediaType"] for layer in manifest["layers"]} == {DOCKER_LAYER_GZIP}
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.manifest == raw
    assert pulled.media_type == DOCKER_MANIFEST
    # Converting the manifest format keeps the config and layer blobs byte for byte.
    assert set(pulled.blobs) == image.blob_digests == pulled.referenced_blobs()


def test_multi_arch_index_round_trips_with_identical_digests(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    ref = f"docker://{registry_server.host}/e2e/multi:1.0"
    multi = source_images.multi

    skopeo.copy(source_images.ref("multi"), ref, "--all")

    assert skopeo.inspect_digest(ref) == multi.index.digest
    for image in multi.images:
        by_digest = f"docker://{registry_server.host}/e2e/multi@{image.manifest.digest}"
        assert skopeo.inspect_digest(by_digest) == image.manifest.digest
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}", "--all")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == multi.index.digest
    assert pulled.media_type == OCI_INDEX
    assert set(pulled.children) == multi.manifest_digests
    assert set(pulled.blobs) == multi.blob_digests


def test_list_tags_returns_every_pushed_tag_sorted(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages
) -> None:
    repo = f"docker://{registry_server.host}/e2e/tagged"
    tags = ["v2", "latest", "1.0", "v10", "A-upper"]
    for tag in tags:
        skopeo.copy(source_images.ref("single"), f"{repo}:{tag}")

    assert skopeo.list_tags(repo) == sorted(tags)


def test_delete_removes_the_manifest_and_its_tag(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages
) -> None:
    ref = f"docker://{registry_server.host}/e2e/deleted:1.0"
    digest = source_images.single.manifest.digest
    skopeo.copy(source_images.ref("single"), ref)

    skopeo.delete(ref)

    accept = {"Accept": OCI_MANIFEST}
    with httpx.Client(base_url=registry_server.url, headers=accept, timeout=30) as http:
        by_digest = http.get(f"/v2/e2e/deleted/manifests/{digest}")
        by_tag = http.get("/v2/e2e/deleted/manifests/1.0")
    assert by_digest.status_code == 404, by_digest.text
    assert by_digest.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert by_tag.status_code == 404, by_tag.text
    with pytest.raises(ClientError, match="manifest unknown"):
        skopeo.inspect_raw(ref)


def test_push_to_a_second_repository_serves_the_same_blobs(
    registry_server: RegistryProcess, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    """skopeo's blob-info cache makes the second push mount blobs from the first repository."""
    first = f"docker://{registry_server.host}/e2e/mount-source:1"
    second = f"docker://{registry_server.host}/e2e/mount-target:1"
    skopeo.copy(source_images.ref("single"), first)

    skopeo.copy(first, second)

    skopeo.copy(second, f"dir:{tmp_path / 'pulled'}")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == source_images.single.manifest.digest
    assert set(pulled.blobs) == source_images.single.blob_digests
