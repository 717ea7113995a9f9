"""hth-ctl reconfigure on a cluster of two registry instances, with skopeo pulling in a loop:
a live switch filesystem -> s3, and --migrate to s3 and to azure (every image byte-identical)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.maintenance.migrate import migrate_bulk
from registry.maintenance.progress import Progress
from registry.storage import StorageDriver, create_driver
from testbed.cluster import Cluster
from testbed.emulators import Azurite, MotoS3
from tests.e2e.conftest import SourceImages
from tests.support.clients import ClientError, Skopeo
from tests.support.images import PulledCopy, read_dir_copy


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    try:
        yield started
    finally:
        started.stop()


class PullLoop:
    """skopeo pulls one image from each instance in turn until stopped; failures are kept."""

    def __init__(self, skopeo: Skopeo, hosts: list[str], ref: str, workdir: Path) -> None:
        self.skopeo, self.hosts, self.ref, self.workdir = skopeo, hosts, ref, workdir
        self.stopped = threading.Event()
        self.pulls = 0
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            host = self.hosts[self.pulls % len(self.hosts)]
            target = self.workdir / f"pull-{self.pulls}"
            try:
                self.skopeo.copy(f"docker://{host}/{self.ref}", f"dir:{target}")
            except ClientError as exc:
                self.failures.append(f"{host}: {exc}")
            shutil.rmtree(target, ignore_errors=True)
            self.pulls += 1

    def __enter__(self) -> PullLoop:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(60)


def _push(skopeo: Skopeo, images: SourceImages, host: str, repo: str) -> None:
    skopeo.copy(images.ref("single"), f"docker://{host}/{repo}/single:v1")
    skopeo.copy(images.ref("multi"), f"docker://{host}/{repo}/multi:v1", "--all")


def _pull(skopeo: Skopeo, host: str, ref: str, target: Path) -> PulledCopy:
    skopeo.copy(f"docker://{host}/{ref}", f"dir:{target}")
    return read_dir_copy(target)


def _same(a: PulledCopy, b: PulledCopy) -> bool:
    contents = {d: p.read_bytes() for d, p in a.blobs.items()}
    return a.manifest == b.manifest and contents == {d: p.read_bytes() for d, p in b.blobs.items()}


def _holds(driver: StorageDriver, repo: str) -> bool:
    try:
        return bool(driver.list(layout.repository(repo)))
    except Exception:  # noqa: BLE001 - missing folder
        return False


def _check_cluster(task: dict[str, Any], loop: PullLoop) -> None:
    assert task["state"] == "succeeded", task["error"]
    table = task["result"]["instances"]
    assert len(table) == 2
    assert {row["generation"] for row in table} == {task["result"]["generation"]}
    assert loop.pulls > 0 and loop.failures == [], loop.failures


def test_switch_to_s3_on_two_instances_keeps_pulls_working_and_new_pushes_land_in_s3(
    cluster: Cluster, skopeo: Skopeo, source_images: SourceImages, moto_s3: MotoS3, tmp_path: Path
) -> None:
    first, second = cluster.hosts
    _push(skopeo, source_images, first, "old")
    settings = moto_s3.settings(moto_s3.new_bucket())
    s3 = create_driver("s3", settings)
    # The bucket already holds a copy (as after an earlier sync): the switch alone is tested.
    migrate_bulk(
        create_driver("filesystem", {"rootdirectory": str(cluster.storage_root)}), s3, Progress()
    )
    with PullLoop(skopeo, cluster.hosts, "old/single:v1", tmp_path / "loop") as loop:
        task = cluster.reconfigure(("s3", settings))
    _check_cluster(task, loop)
    _push(skopeo, source_images, second, "new")
    assert _holds(s3, "new/single") and _holds(s3, "new/multi")
    assert not (cluster.storage_root / layout.repository("new/single").lstrip("/")).exists()
    back = _pull(skopeo, first, "new/single:v1", tmp_path / "back")
    assert back.referenced_blobs() == source_images.single.blob_digests


@pytest.mark.parametrize("backend", ["s3", "azure"])
def test_migrate_copies_every_image_byte_identical_while_pulls_go_on(
    cluster: Cluster,
    skopeo: Skopeo,
    source_images: SourceImages,
    moto_s3: MotoS3,
    azurite: Azurite,
    tmp_path: Path,
    backend: str,
) -> None:
    first, second = cluster.hosts
    _push(skopeo, source_images, first, "app")
    before = {
        ref: _pull(skopeo, first, ref, tmp_path / f"before-{i}")
        for i, ref in enumerate(["app/single:v1", "app/multi:v1"])
    }
    if backend == "s3":
        settings = moto_s3.settings(moto_s3.new_bucket())
    else:
        settings = azurite.settings(azurite.new_container())
    with PullLoop(skopeo, cluster.hosts, "app/single:v1", tmp_path / "loop") as loop:
        task = cluster.reconfigure((backend, settings), migrate=True)
    _check_cluster(task, loop)
    migration = task["result"]["migration"]
    assert migration["blobs_copied"] > 0 and migration["phases"] == ["bulk", "final"]
    shutil.rmtree(cluster.storage_root)  # from now on only the new backend can answer
    for host in (first, second):
        for i, (ref, pulled) in enumerate(before.items()):
            after = _pull(skopeo, host, ref, tmp_path / f"after-{host}-{i}")
            assert _same(after, pulled), ref
    _push(skopeo, source_images, second, "later")
    assert _holds(create_driver(backend, settings), "later/single")
