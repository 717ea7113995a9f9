"""Backups of a filesystem registry: what they hold, incrementality, refusals, space checks,
cancellation, and a push racing the metadata read."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from registry import layout
from registry.cluster.leases import no_lease
from registry.config import parse_settings
from registry.content.repositories import mark_deleted
from registry.maintenance.backup.restore import restore_from_store
from registry.maintenance.backup.space import NotEnoughSpace
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.backup.take import (
    BackupError,
    BackupOptions,
    BackupUnsupported,
    backup_store,
    create_backup,
    storage_root,
)
from registry.maintenance.progress import TaskCancelled
from registry.storage import FileInfo, StorageDriver
from registry.storage.base import CheckedDriver
from tests.maintenance.backup_support import (
    LeaseLog,
    Recorder,
    backup,
    fingerprint,
    metadata_and_blobs,
    torn_references,
)
from tests.maintenance.trees import Tree

S3_SETTINGS = {
    "accesskey": "AK",
    "secretkey": "SK",
    "bucket": "registry",
    "region": "us-east-1",
    # Nothing listens there: touching the backend would fail differently (and be retried).
    "regionendpoint": "http://127.0.0.1:9",
}


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


@pytest.fixture()
def store(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "backups")


def populate(tree: Tree) -> None:
    """Images, an index, a referrer, a soft-deleted repository and an upload in progress."""
    app = tree.image("team/app", "v1", layers=3)
    arm = tree.image("team/app", None, layers=1, shared=(app.layers[0],))
    tree.index("team/app", [app.manifest, arm.manifest], "multi")
    tree.image("team/app", None, layers=1, subject=app.manifest)
    tree.image("team/app/api", "latest", layers=2)
    tree.image("old/thing", "v0", layers=1)
    mark_deleted(tree.driver, "old/thing")
    tree.upload("team/app", datetime.now(UTC), size=1000)


def restore_to(store: BackupStore, backup_id: str, root: Path) -> Path:
    restore_from_store(store, backup_id, root, no_lease, Recorder().progress())
    return root


def test_a_backup_restores_every_file_but_upload_sessions(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    populate(tree)
    result = backup(tree.root, store)
    restored = restore_to(store, result.backup_id, tmp_path / "restored")
    assert metadata_and_blobs(restored) == metadata_and_blobs(tree.root)
    assert not list(restored.rglob("_uploads"))
    assert (restored / layout.deleted_marker("old/thing").lstrip("/")).is_file()
    assert torn_references(restored) == []


def test_link_files_keep_their_modification_times(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    image = tree.image("team/app", "v1")
    link = layout.revision_link("team/app", image.manifest).lstrip("/")
    os.utime(tree.root / link, (1_600_000_000.25, 1_600_000_000.25))
    restored = restore_to(store, backup(tree.root, store).backup_id, tmp_path / "restored")
    assert (restored / link).stat().st_mtime == pytest.approx(1_600_000_000.25, abs=1e-3)


def test_the_result_names_the_backup_and_what_it_added(tree: Tree, store: BackupStore) -> None:
    populate(tree)
    blobs = {p for p in tree.files() if p.startswith("docker/registry/v2/blobs/")}
    size = sum((tree.root / p).stat().st_size for p in blobs)
    result = backup(tree.root, store)
    assert (result.blobs_copied, result.bytes_copied) == (len(blobs), size)
    assert result.backup_id in store.backup_ids()
    assert result.repositories == 3
    assert result.verification == "verified"
    manifest = store.manifest(result.backup_id)
    assert (manifest.blobs_copied, manifest.bytes_copied, manifest.blob_bytes) == (
        len(blobs),
        size,
        size,
    )


def test_a_second_backup_of_an_unchanged_registry_copies_zero_blobs(
    tree: Tree, store: BackupStore
) -> None:
    populate(tree)
    first = backup(tree.root, store)
    second = backup(tree.root, store)
    assert (second.blobs_copied, second.bytes_copied) == (0, 0)
    assert second.blobs == first.blobs and second.backup_id != first.backup_id
    assert store.backup_ids() == [first.backup_id, second.backup_id]


def test_a_new_image_copies_only_its_own_blobs(tree: Tree, store: BackupStore) -> None:
    base = tree.image("team/app", "v1", layers=2)
    backup(tree.root, store)
    added = tree.image("team/app", "v2", layers=1, shared=tuple(base.layers))
    result = backup(tree.root, store)
    assert result.blobs_copied == 3  # its manifest, config and one new layer
    assert {added.manifest, added.config, added.layers[-1]} <= {
        b.digest for b in store.manifest(result.backup_id).blobs
    }


def test_stored_blobs_are_copies_that_survive_the_registry_disk(
    tree: Tree, store: BackupStore
) -> None:
    image = tree.image("team/app", "v1")
    backup(tree.root, store)
    live = tree.root / layout.blob_data(image.config).lstrip("/")
    stored = store.blob_path(image.config)
    assert stored.read_bytes() == live.read_bytes()
    assert stored.stat().st_ino != live.stat().st_ino and stored.stat().st_nlink == 1


def test_any_driver_but_filesystem_is_refused_with_the_documented_message(
    tmp_path: Path,
) -> None:
    settings = parse_settings(
        {
            "data_dir": str(tmp_path / "var"),
            "docker_registry": {
                "storage_driver": "s3",
                "storage_settings": S3_SETTINGS,
                "backups": {"directory": str(tmp_path / "backups")},
            },
        }
    )
    with pytest.raises(BackupUnsupported) as refused:
        storage_root(settings)
    assert str(refused.value) == (
        "backups need the filesystem storage driver; docker_registry.storage_driver is 's3': "
        "nothing was done"
    )
    assert not (tmp_path / "backups").exists()


def test_a_backup_directory_inside_the_storage_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    settings = parse_settings(
        {
            "data_dir": str(tmp_path / "var"),
            "docker_registry": {
                "storage_settings": {"rootdirectory": str(root)},
                "backups": {"directory": str(root / "backups")},
            },
        }
    )
    with pytest.raises(BackupError, match="must not contain one another"):
        backup_store(settings, storage_root(settings))


def test_not_enough_free_space_fails_early_with_the_numbers(tree: Tree, store: BackupStore) -> None:
    tree.image("team/app", "v1")
    # A sparse blob of 15 TiB: no disk used, but more than any test machine has free.
    huge = "sha256:" + "ab" * 32
    path = tree.local(layout.blob_data(huge))
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:
        handle.truncate(15 * 1024**4)
    tree.link("team/app", huge)
    with pytest.raises(NotEnoughSpace) as refused:
        backup(tree.root, store)
    message = str(refused.value)
    assert f"not enough free space for the backup in {store.directory}" in message
    assert re.search(r"it needs 164927\d{8} bytes \(15\.0 TiB: 5 new blobs of 15\.0 TiB", message)
    assert re.search(r"\), \d+ bytes \([\d.]+ \w+\) are free$", message)
    assert store.backup_ids() == [] and not store.blob_path(huge).exists()


def test_a_cancelled_backup_leaves_no_partial_backup(tree: Tree, store: BackupStore) -> None:
    populate(tree)
    recorder = Recorder(cancel_after=4)
    options = BackupOptions(tree.root, store, keep=7)
    with pytest.raises(TaskCancelled):
        create_backup(tree.driver, options, no_lease, recorder.progress())
    assert store.backup_ids() == [] and store.incomplete() == []
    assert backup(tree.root, store).verification == "verified"


class PushDuringWalk(CheckedDriver):
    """A filesystem driver that runs `push` once the walk reaches `trigger` (the race of a
    push that slips past the freeze, made deterministic)."""

    def __init__(self, inner: StorageDriver, trigger: str, push: Callable[[], None]) -> None:
        super().__init__(inner)
        self.trigger, self.push, self.pushed = trigger, push, False

    def walk(self, path: str) -> Iterator[FileInfo]:
        for info in super().walk(path):
            if not self.pushed and info.path == self.trigger:
                self.pushed = True
                self.push()
            yield info


def test_a_push_racing_the_metadata_read_is_completed_not_torn(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    base = tree.image("team/app", "v1", layers=1)
    pushed: list[str] = []

    def push() -> None:  # after `_layers` was walked: its new links are not listed
        image = tree.image("team/app", "v2", layers=2)
        pushed.append(tree.index("team/app", [base.manifest, image.manifest], "multi"))

    driver = PushDuringWalk(tree.driver, layout.manifests_root("team/app"), push)
    result = create_backup(
        driver, BackupOptions(tree.root, store, keep=7), no_lease, Recorder().progress()
    )
    assert pushed and result.completed_files >= 2  # the new image's layer links
    restored = restore_to(store, result.backup_id, tmp_path / "restored")
    assert torn_references(restored) == []
    assert torn_references(tree.root) == []
    assert (restored / layout.tag_current_link("team/app", "multi").lstrip("/")).is_file()


def test_a_backup_changes_nothing_in_the_registry(tree: Tree, store: BackupStore) -> None:
    populate(tree)
    before = fingerprint(tree.root)
    backup(tree.root, store)
    assert fingerprint(tree.root) == before


def test_metadata_is_read_under_readonly_and_blobs_copied_under_shared(
    tree: Tree, store: BackupStore
) -> None:
    populate(tree)
    leases = LeaseLog()
    recorder = Recorder(events=leases.events)
    create_backup(tree.driver, BackupOptions(tree.root, store, keep=7), leases, recorder.progress())
    assert leases.during("readonly") == ["metadata"]
    assert leases.during("shared") == ["copy"]
    events = leases.events
    assert events.index("end readonly") < events.index("take shared")  # never nested
    assert events.index("end shared") < events.index("verify")
