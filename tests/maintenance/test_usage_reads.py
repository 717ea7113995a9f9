"""The usage task downloads no layer data, on the filesystem and on S3 (moto): every read
of file content goes through a recording driver, and on S3 the emulator's own request log
shows which objects were fetched with a GET. Manifests are read (that is where the sizes
come from); layers and configs are only ever listed or `stat`ed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from registry import layout
from registry.maintenance.gc.collect import GCOptions
from registry.maintenance.usage import compute_usage
from registry.storage import StorageDriver, create_driver
from registry.storage.base import CheckedDriver
from testbed.emulators import MotoS3
from tests.maintenance.test_usage import by_name, image, manifest_bytes
from tests.maintenance.trees import NO_GRACE, Tree


class RecordingDriver(CheckedDriver):
    """The driver, noting the path of every content read (get_content, reader)."""

    def __init__(self, inner: StorageDriver) -> None:
        super().__init__(inner)
        self.reads: list[str] = []

    def get_content(self, path: str) -> bytes:
        self.reads.append(path)
        return super().get_content(path)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        self.reads.append(path)
        return super().reader(path, offset)


@dataclass
class Backend:
    tree: Tree
    # The object keys the emulator answered a GET for since the call before; None: no wire.
    fetched_since: Callable[[], list[str]] | None = None


def _moto_gets(moto: MotoS3, bucket: str) -> Callable[[], list[str]]:
    _, offset = moto.gets_since(bucket, 0)

    def fetched_since() -> list[str]:
        nonlocal offset
        paths, offset = moto.gets_since(bucket, offset)
        return paths

    return fetched_since


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "filesystem":
        yield Backend(Tree(tmp_path / "storage"))
        return
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    bucket = moto.new_bucket()
    driver = create_driver("s3", moto.settings(bucket, rootdirectory="/registry"))
    yield Backend(Tree(tmp_path / "not-used", driver), _moto_gets(moto, bucket))


LAYERS = (b"L" * 200_000, b"M" * 150_000, b"N" * 50_000)


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_digest(path: str) -> str | None:
    """`sha256:<hex>` when `path` is a blob's data path."""
    found = re.search(r"/blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})/data$", path)
    return f"sha256:{found.group(1)}" if found else None


@pytest.mark.parametrize("stat_blobs", [False, True])
def test_usage_reads_manifests_but_no_layer_or_config(backend: Backend, stat_blobs: bool) -> None:
    tree = backend.tree
    first = image(tree, "team/first", "v1", LAYERS[0], LAYERS[1])
    second = image(tree, "team/second", "v1", LAYERS[0], LAYERS[2])
    manifests = {first, second}
    if backend.fetched_since is not None:
        backend.fetched_since()  # the pushes' own requests are not the task's
    recording = RecordingDriver(tree.driver)

    result = compute_usage(recording, GCOptions(grace_period=NO_GRACE), stat_blobs=stat_blobs)

    found = by_name(result)
    assert found["team/first"].size_bytes == manifest_bytes(tree, first)
    assert found["team/second"].unique_bytes == manifest_bytes(tree, second) - len(LAYERS[0])
    read_blobs = {d for d in map(_blob_digest, recording.reads) if d is not None}
    assert read_blobs == manifests  # each manifest is read; no layer, no config
    if backend.fetched_since is not None:
        fetched = {d for d in map(_blob_digest, backend.fetched_since()) if d is not None}
        assert fetched == manifests
    # The layers were there to be downloaded, and are as large as the test made them.
    for layer in LAYERS:
        assert tree.driver.stat(layout.blob_data(_digest_of(layer))).size == len(layer)
