"""Immutable tags with a real client: skopeo may create a protected tag and copy the same
image to it again, but not move it to another image nor delete it; other tags move."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess
from tests.support.clients import ClientError, Skopeo
from tests.support.images import Image, OciLayout

pytestmark = pytest.mark.e2e


@pytest.fixture()
def two_images(tmp_path: Path) -> tuple[str, Image, str, Image]:
    """Two different images in one OCI layout: (ref of the first, it, ref of the second, it)."""
    layout = OciLayout(tmp_path / "layout")
    first = layout.write_image("first", [2_000], seed=231)
    second = layout.write_image("second", [3_000], seed=232)
    return f"oci:{layout.path}:first", first, f"oci:{layout.path}:second", second


@pytest.fixture()
def namespace(registry_server: RegistryProcess) -> Iterator[str]:
    """A fresh namespace whose semver tags a rule protects (the rule goes afterwards)."""
    name = f"protect{uuid.uuid4().hex[:8]}"
    rule = {"name": name, "repositories": f"{name}/**", "tags": r"v\d+\.\d+\.\d+"}
    with httpx.Client(base_url=registry_server.url, timeout=30) as api:
        assert api.post("/api/v1/tag-protections", json=rule).status_code == 201
        yield name
        api.delete(f"/api/v1/tag-protections/{name}")


def test_skopeo_cannot_move_a_protected_tag_and_the_first_image_stays_served(
    registry_server: RegistryProcess,
    skopeo: Skopeo,
    namespace: str,
    two_images: tuple[str, Image, str, Image],
) -> None:
    first_ref, first, second_ref, _ = two_images
    target = f"docker://{registry_server.host}/{namespace}/app:v1.0.0"
    skopeo.copy(first_ref, target)

    with pytest.raises(ClientError) as refused:
        skopeo.copy(second_ref, target)

    # skopeo shows the OCI code and Harbor's message of the 412 answer.
    message = f"denied: Failed to process request due to '{namespace}/app:v1.0.0' configured"
    assert message in str(refused.value)
    assert skopeo.inspect_digest(target) == first.manifest.digest
    skopeo.copy(first_ref, target)  # the same image again: allowed
    assert skopeo.inspect_digest(target) == first.manifest.digest


def test_skopeo_cannot_delete_a_protected_tag(
    registry_server: RegistryProcess,
    skopeo: Skopeo,
    namespace: str,
    two_images: tuple[str, Image, str, Image],
) -> None:
    first_ref, first, _, _ = two_images
    target = f"docker://{registry_server.host}/{namespace}/app:v2.0.0"
    skopeo.copy(first_ref, target)

    with pytest.raises(ClientError, match="configured as immutable"):
        skopeo.delete(target)

    assert skopeo.inspect_digest(target) == first.manifest.digest


def test_an_unprotected_tag_moves_with_skopeo(
    registry_server: RegistryProcess,
    skopeo: Skopeo,
    namespace: str,
    two_images: tuple[str, Image, str, Image],
) -> None:
    first_ref, _, second_ref, second = two_images
    target = f"docker://{registry_server.host}/{namespace}/app:latest"
    skopeo.copy(first_ref, target)
    skopeo.copy(second_ref, target)
    assert skopeo.inspect_digest(target) == second.manifest.digest
