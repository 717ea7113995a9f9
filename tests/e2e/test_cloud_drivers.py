"""Our registry on every cloud driver, end to end with skopeo: push and pull with identical
digests, pulls that follow the 307 to the emulator, `redirect: false`, then GC and a pull of
what survived. One test per driver runs the whole flow, on the session emulators."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from registry.maintenance.gc.collect import GCOptions, collect_garbage
from testbed.cloud_registry import CLOUD_STORAGE, CloudStorage, log_records
from testbed.processes import RegistryProcess
from tests.support.clients import Skopeo
from tests.support.images import Image, MultiArchImage, OciLayout, read_dir_copy

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
StartRegistry = Callable[[CloudStorage], RegistryProcess]


@dataclass(frozen=True)
class SmallImages:
    """Tag `single` (three layers, about 2.3 MiB) and tag `multi` (an index of two images)."""

    layout: Path
    single: Image
    multi: MultiArchImage

    def ref(self, tag: str) -> str:
        return f"oci:{self.layout}:{tag}"


@pytest.fixture(scope="session")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> SmallImages:
    path = tmp_path_factory.mktemp("cloud-source") / "layout"
    layout = OciLayout(path)
    single = layout.write_image("single", [MiB, MiB, 256 * 1024], seed=11)
    multi = layout.write_index(
        "multi", [("linux", "amd64"), ("linux", "arm64")], [512 * 1024, 4096], seed=12
    )
    return SmallImages(path, single, multi)


@pytest.mark.parametrize("driver", list(CLOUD_STORAGE))
def test_push_pull_redirect_and_gc_round_trip_on_the_driver(
    driver: str,
    request: pytest.FixtureRequest,
    start_cloud_registry: StartRegistry,
    skopeo: Skopeo,
    small_images: SmallImages,
    tmp_path: Path,
) -> None:
    storage = CLOUD_STORAGE[driver](request)
    registry = start_cloud_registry(storage)
    single, multi = small_images.single, small_images.multi
    single_ref = f"docker://{registry.host}/e2e/single:1"
    multi_ref = f"docker://{registry.host}/e2e/multi:1"

    skopeo.copy(small_images.ref("single"), single_ref)
    skopeo.copy(small_images.ref("multi"), multi_ref, "--all")

    assert skopeo.inspect_digest(single_ref) == single.manifest.digest
    assert skopeo.inspect_digest(multi_ref) == multi.index.digest
    assert_pulls_single(skopeo, single_ref, single, tmp_path / "single")
    assert_pulls_multi(skopeo, multi_ref, multi, tmp_path / "multi")
    assert_blob_pulls_were_redirected(registry)
    layer = single.layers[-1].digest
    assert_blob_get_redirects_to_backend(registry, storage, "e2e/single", layer)

    streaming = start_cloud_registry(storage.with_settings(redirect=False))
    assert_blob_get_is_streamed(streaming, "e2e/single", layer)

    skopeo.delete(single_ref)
    result = collect_garbage(storage.open_driver(), GCOptions(grace_period=timedelta(0)))

    assert set(result.deleted_blobs) == single.blob_digests | {single.manifest.digest}
    gone = httpx.get(f"{registry.url}/v2/e2e/single/blobs/{layer}", timeout=30)
    assert gone.status_code == 404, gone.text
    assert_pulls_multi(skopeo, multi_ref, multi, tmp_path / "multi-after-gc")


def assert_pulls_single(skopeo: Skopeo, ref: str, image: Image, out: Path) -> None:
    skopeo.copy(ref, f"dir:{out}")
    pulled = read_dir_copy(out)  # re-hashes every file against its digest
    assert pulled.digest == image.manifest.digest
    assert set(pulled.blobs) == image.blob_digests


def assert_pulls_multi(skopeo: Skopeo, ref: str, multi: MultiArchImage, out: Path) -> None:
    skopeo.copy(ref, f"dir:{out}", "--all")
    pulled = read_dir_copy(out)
    assert pulled.digest == multi.index.digest
    assert set(pulled.children) == multi.manifest_digests
    assert set(pulled.blobs) == multi.blob_digests


def assert_blob_pulls_were_redirected(registry: RegistryProcess) -> None:
    """skopeo got every blob from the backend: the registry answered each blob GET with 307."""
    gets = [
        r["status"]
        for r in log_records(registry)
        if r.get("logger") == "hth.access" and r.get("route") == "blob" and r.get("method") == "GET"
    ]
    assert gets, "the registry logged no blob GET"
    assert set(gets) == {307}, gets


def assert_blob_get_redirects_to_backend(
    registry: RegistryProcess, storage: CloudStorage, name: str, digest: str
) -> None:
    url = f"{registry.url}/v2/{name}/blobs/{digest}"
    answer = httpx.get(url, follow_redirects=False, timeout=30)
    assert answer.status_code == 307, answer.text
    location = answer.headers["location"]
    assert urlsplit(location).netloc == storage.backend_host
    assert answer.headers["docker-content-digest"] == digest
    fetched = httpx.get(location, timeout=30)  # a plain GET, no registry credentials
    assert fetched.status_code == 200, fetched.text
    assert "sha256:" + hashlib.sha256(fetched.content).hexdigest() == digest


def assert_blob_get_is_streamed(registry: RegistryProcess, name: str, digest: str) -> None:
    url = f"{registry.url}/v2/{name}/blobs/{digest}"
    answer = httpx.get(url, follow_redirects=False, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["docker-content-digest"] == digest
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == digest
