"""buildah pushes an image it built from scratch; skopeo pulls it back intact."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.processes import RegistryProcess
from tests.support.clients import Buildah, Skopeo
from tests.support.images import read_dir_copy

pytestmark = pytest.mark.e2e


@pytest.fixture()
def buildah(tmp_path: Path) -> Iterator[Buildah]:
    client = Buildah(tmp_path / "buildah")
    yield client
    client.cleanup()


def layer_files(blob: Path) -> dict[str, bytes]:
    """Regular files in a layer tar (compressed or not), by path without a leading './'."""
    with tarfile.open(blob, mode="r:*") as tar:
        return {
            member.name.lstrip("./"): tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


@pytest.mark.parametrize("manifest_format", ["oci", "docker"])
def test_buildah_pushes_a_scratch_image_that_skopeo_pulls(
    registry_server: RegistryProcess,
    buildah: Buildah,
    skopeo: Skopeo,
    tmp_path: Path,
    manifest_format: str,
) -> None:
    payload = tmp_path / "hello.txt"
    payload.write_bytes(b"hello from buildah\n" * 10_000)
    container = buildah.from_scratch()
    buildah.copy(container, payload, "/hello.txt")
    buildah.config(container, "--cmd", "/hello.txt")
    local = f"localhost/e2e/scratch-{manifest_format}:1"
    buildah.commit(container, local, manifest_format)
    ref = f"docker://{registry_server.host}/e2e/buildah-{manifest_format}:1"

    pushed_digest = buildah.push(local, ref, tmp_path / "digest")

    assert skopeo.inspect_digest(ref) == pushed_digest
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == pushed_digest
    assert set(pulled.blobs) == pulled.referenced_blobs()
    layers = json.loads(pulled.manifest)["layers"]
    assert [layer_files(pulled.blobs[layer["digest"]]) for layer in layers] == [
        {"hello.txt": payload.read_bytes()}
    ]
