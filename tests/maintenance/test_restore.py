"""Restore rebuilds the storage beside the live root and swaps it in; a failed restore
leaves the live data exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.cluster.leases import no_lease
from registry.maintenance.backup.manifest import BlobEntry
from registry.maintenance.backup.restore import RestoreError, restore_from_store
from registry.maintenance.backup.store import BackupNotFound, BackupStore
from registry.maintenance.progress import TaskCancelled
from tests.maintenance.backup_support import (
    LeaseLog,
    Recorder,
    backup,
    fingerprint,
    metadata_and_blobs,
    torn_references,
)
from tests.maintenance.trees import Tree


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


@pytest.fixture()
def store(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "backups")


def restore(store: BackupStore, backup_id: str, root: Path, **options: bool) -> Recorder:
    recorder = Recorder()
    restore_from_store(store, backup_id, root, no_lease, recorder.progress(), **options)
    return recorder


def beside(root: Path) -> list[str]:
    """What a restore may have left next to the root."""
    return sorted(p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}."))


def test_restore_brings_back_the_backed_up_state(tree: Tree, store: BackupStore) -> None:
    old = tree.image("team/app", "v1", layers=2)
    tree.image("team/app/api", "latest")
    backup_id = backup(tree.root, store).backup_id
    expected = metadata_and_blobs(tree.root)
    tree.untag("team/app", "v1")
    tree.image("team/app", "v2")  # pushed after the backup: gone after the restore
    restore(store, backup_id, tree.root)
    assert metadata_and_blobs(tree.root) == expected
    assert tree.tagged("team/app") == {old.manifest}
    assert torn_references(tree.root) == [] and beside(tree.root) == []


def test_a_restore_that_fails_half_way_leaves_the_live_data_intact(
    tree: Tree, store: BackupStore
) -> None:
    for n in range(6):
        tree.image(f"team/app{n}", "v1", layers=3)
    backup_id = backup(tree.root, store).backup_id
    tree.untag("team/app0", "v1")
    tree.image("team/new", "v1")
    live = fingerprint(tree.root)
    # A real fault: one stored blob, late in the copy order, lost a byte after the backup.
    last = max(blob.digest for blob in store.manifest(backup_id).blobs)
    damaged = store.blob_path(last)
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    recorder = Recorder()
    with pytest.raises(RestoreError) as failed:
        restore_from_store(store, backup_id, tree.root, no_lease, recorder.progress())
    assert f"backup {backup_id} is damaged: {damaged}: content hashes to" in str(failed.value)
    copied = [r.done for r in recorder.reports if r.phase == "blobs"]
    assert max(copied) > 0  # the metadata and most blobs were written before it failed
    assert fingerprint(tree.root) == live
    assert beside(tree.root) == []


def test_a_restore_cancelled_while_copying_changes_nothing(tree: Tree, store: BackupStore) -> None:
    for n in range(4):
        tree.image(f"team/app{n}", "v1", layers=2)
    backup_id = backup(tree.root, store).backup_id
    tree.image("team/new", "v1")
    live = fingerprint(tree.root)
    recorder = Recorder(cancel_after=20)
    with pytest.raises(TaskCancelled):
        restore_from_store(store, backup_id, tree.root, no_lease, recorder.progress())
    assert fingerprint(tree.root) == live and beside(tree.root) == []


def test_the_replaced_tree_is_kept_when_asked(tree: Tree, store: BackupStore) -> None:
    tree.image("team/app", "v1")
    backup_id = backup(tree.root, store).backup_id
    tree.image("team/app", "v2")
    before = fingerprint(tree.root)
    restore(store, backup_id, tree.root, keep_previous=True)
    [kept] = beside(tree.root)
    assert kept == f".storage.before-{backup_id}"
    assert fingerprint(tree.root.parent / kept) == before


def test_a_restore_into_a_missing_root_creates_it(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    tree.image("team/app", "v1")
    backup_id = backup(tree.root, store).backup_id
    target = tmp_path / "elsewhere" / "storage"
    target.parent.mkdir()
    restore(store, backup_id, target)
    assert metadata_and_blobs(target) == metadata_and_blobs(tree.root)


def test_an_unknown_backup_is_not_found(tree: Tree, store: BackupStore) -> None:
    tree.image("team/app", "v1")
    backup(tree.root, store)
    with pytest.raises(BackupNotFound):
        restore(store, "20000101T000000.000Z-000000", tree.root)
    with pytest.raises(BackupNotFound):
        restore(store, "../../etc", tree.root)


def test_restored_blobs_are_re_hashed_against_their_digests(tree: Tree, store: BackupStore) -> None:
    image = tree.image("team/app", "v1")
    backup_id = backup(tree.root, store).backup_id
    manifest = store.manifest(backup_id)
    assert BlobEntry(image.config, len(store.blob_path(image.config).read_bytes())) in (
        manifest.blobs
    )
    store.blob_path(image.config).unlink()
    with pytest.raises(RestoreError, match="is damaged"):
        restore(store, backup_id, tree.root)
    assert (tree.root / layout.blob_data(image.config).lstrip("/")).is_file()


def test_the_tree_is_built_and_swapped_under_the_stop_lease(tree: Tree, store: BackupStore) -> None:
    tree.image("team/app", "v1")
    backup_id = backup(tree.root, store).backup_id
    leases = LeaseLog()
    recorder = Recorder(events=leases.events)
    restore_from_store(store, backup_id, tree.root, leases, recorder.progress())
    assert leases.events[0] == "take stop" and leases.events[-1] == "end stop"
    assert leases.during("stop") == ["metadata", "blobs"]
