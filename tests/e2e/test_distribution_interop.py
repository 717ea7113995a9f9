"""The on-disk layout is Distribution's: each registry serves what the other one stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from testbed.distribution import DistributionProcess
from testbed.processes import RegistryProcess
from tests.e2e.conftest import SourceImages
from tests.support.clients import Skopeo
from tests.support.images import read_dir_copy

pytestmark = pytest.mark.e2e

# (repository:tag, source tag, extra skopeo copy options)
PUSHES = [
    ("interop/oci:1.0", "single", []),
    ("interop/oci:latest", "single", []),
    ("interop/v2s2:1.0", "single", ["--format", "v2s2"]),
    ("team/sub/multi:1.0", "multi", ["--all"]),
]


def push_all(skopeo: Skopeo, host: str, source: SourceImages) -> dict[str, str]:
    """Push every image of PUSHES; returns the manifest digest each reference serves."""
    digests = {}
    for reference, tag, options in PUSHES:
        ref = f"docker://{host}/{reference}"
        skopeo.copy(source.ref(tag), ref, *options)
        digests[reference] = skopeo.inspect_digest(ref)
    return digests


def assert_serves_all(
    skopeo: Skopeo, host: str, digests: dict[str, str], source: SourceImages, out: Path
) -> None:
    """Pull every image through `host`: same manifest digests, every blob intact."""
    out.mkdir()
    for number, (reference, tag, _) in enumerate(PUSHES):
        ref = f"docker://{host}/{reference}"
        assert skopeo.inspect_digest(ref) == digests[reference], reference
        skopeo.copy(ref, f"dir:{out / str(number)}", "--all")
        pulled = read_dir_copy(out / str(number))
        assert pulled.digest == digests[reference], reference
        expected = source.multi.blob_digests if tag == "multi" else source.single.blob_digests
        assert set(pulled.blobs) == expected, reference
    # Distribution 2.8 lists tags in directory order; the order itself is tested elsewhere.
    assert sorted(skopeo.list_tags(f"docker://{host}/interop/oci")) == ["1.0", "latest"]


def catalog(url: str) -> list[str]:
    response = httpx.get(f"{url}/v2/_catalog", timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["repositories"])


def test_distribution_serves_what_we_stored(
    start_registry: Callable[[Path], RegistryProcess],
    start_distribution: Callable[[Path], DistributionProcess],
    skopeo: Skopeo,
    source_images: SourceImages,
    tmp_path: Path,
) -> None:
    storage = tmp_path / "storage"
    ours = start_registry(storage)
    digests = push_all(skopeo, ours.host, source_images)
    ours.stop()

    theirs = start_distribution(storage)

    assert_serves_all(skopeo, theirs.host, digests, source_images, tmp_path / "pulled")
    assert catalog(theirs.url) == ["interop/oci", "interop/v2s2", "team/sub/multi"]


def test_we_serve_what_distribution_stored(
    start_registry: Callable[[Path], RegistryProcess],
    start_distribution: Callable[[Path], DistributionProcess],
    skopeo: Skopeo,
    source_images: SourceImages,
    tmp_path: Path,
) -> None:
    storage = tmp_path / "storage"
    theirs = start_distribution(storage)
    digests = push_all(skopeo, theirs.host, source_images)
    theirs.stop()

    ours = start_registry(storage)

    assert_serves_all(skopeo, ours.host, digests, source_images, tmp_path / "pulled")
    assert catalog(ours.url) == ["interop/oci", "interop/v2s2", "team/sub/multi"]


def test_distribution_pulls_a_tag_we_moved(
    start_registry: Callable[[Path], RegistryProcess],
    start_distribution: Callable[[Path], DistributionProcess],
    skopeo: Skopeo,
    source_images: SourceImages,
    tmp_path: Path,
) -> None:
    """Re-pointing a tag must update `current/link` the way Distribution reads it."""
    storage = tmp_path / "storage"
    ours = start_registry(storage)
    ref = f"docker://{ours.host}/interop/moved:stable"
    skopeo.copy(source_images.ref("single"), ref)
    skopeo.copy(source_images.ref("multi"), ref, "--all")
    ours.stop()

    theirs = start_distribution(storage)

    moved = f"docker://{theirs.host}/interop/moved:stable"
    assert skopeo.inspect_digest(moved) == source_images.multi.index.digest
