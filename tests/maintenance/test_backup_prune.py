"""Retention: the newest `keep` backups stay, and the newest `keep` sound ones; older ones
and the blobs only they used go."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.maintenance.backup.problems import BackupCorrupt
from registry.maintenance.backup.prune import kept_text, prune_backups
from registry.maintenance.backup.store import BackupStore
from tests.maintenance.backup_support import Recorder, backup
from tests.maintenance.trees import Tree


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


@pytest.fixture()
def store(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "backups")


def stored(store: BackupStore) -> set[str]:
    return {digest for digest, _ in store.stored_blobs()}


def test_retention_keeps_the_newest_and_frees_blobs_no_backup_lists(
    tree: Tree, store: BackupStore
) -> None:
    shared = tree.image("team/app", "v1", layers=1)
    first = backup(tree.root, store, keep=2)
    tree.untag("team/app", "v1")
    tree.delete_manifest("team/app", shared.manifest)
    for gone in (shared.manifest, shared.config):  # what GC then removes
        tree.driver.delete(layout.layer_link("team/app", gone).rpartition("/")[0])
    kept = tree.image("team/app", "v2", layers=1, shared=tuple(shared.layers))
    second = backup(tree.root, store, keep=2)
    third = backup(tree.root, store, keep=2)
    assert third.pruned is not None
    assert third.pruned["deleted"] == [first.backup_id]
    assert store.backup_ids() == [second.backup_id, third.backup_id]
    # The first backup alone held the old manifest and its config; the shared layer stays.
    assert shared.manifest not in stored(store) and shared.config not in stored(store)
    assert set(kept.blobs) <= stored(store)
    assert third.pruned["blobs_deleted"] == 2 and third.pruned["bytes_freed"] > 0
    assert (third.pruned["keep"], third.pruned["kept_sound"]) == (2, [])
    assert kept_text(third.pruned) == "kept 2: the newest 2 (docker_registry.backups.keep)"
    # Nothing changed since the second: every blob was already backed up, none copied again.
    assert (third.blobs_copied, third.bytes_copied) == (0, 0)
    assert (third.blobs_already_backed_up, third.bytes_already_backed_up) == (
        second.blobs,
        sum(blob.size for blob in store.manifest(third.backup_id).blobs),
    )


def test_prune_removes_abandoned_partial_backups_and_temporary_files(
    tree: Tree, store: BackupStore
) -> None:
    tree.image("team/app", "v1")
    backup(tree.root, store)
    store.start("20000101T000000.000Z-abcdef")  # as a crashed backup leaves it
    temp = store.blobs / "sha256" / "aa" / ("aa" * 32 + ".tmp-0123456789ab")
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(b"half a copy")
    result = prune_backups(store, 7, Recorder().progress())
    assert (result.deleted, result.incomplete_removed, result.blobs_deleted) == ([], 1, 0)
    assert store.incomplete() == [] and not temp.exists()


def test_prune_waits_for_no_one_and_skips_while_a_backup_runs(
    tree: Tree, store: BackupStore
) -> None:
    tree.image("team/app", "v1")
    for _ in range(3):
        backup(tree.root, store, prune=False)
    recorder = Recorder()
    with store.shared():  # what a running backup, verify, export or restore holds
        result = prune_backups(store, 1, recorder.progress())
    assert result.skipped is not None and "in use by another backup task" in result.skipped
    assert len(store.backup_ids()) == 3
    assert "prune skipped" in recorder.text()
    assert len(prune_backups(store, 1, Recorder().progress()).deleted) == 2


def test_failed_corrupt_backups_are_kept_and_never_push_the_sound_ones_out(
    tree: Tree, store: BackupStore
) -> None:
    image = tree.image("team/app", "v1")
    sound = [backup(tree.root, store, keep=2).backup_id for _ in range(2)]
    damaged = [tree.local(layout.blob_data(image.layers[0])), store.blob_path(image.layers[0])]
    content = damaged[0].read_bytes()
    for path in damaged:  # the stored copy, and the registry's that could repair it
        path.write_bytes(b"#" + content[1:])
    failed = []
    for _ in range(2):
        with pytest.raises(BackupCorrupt) as caught:
            backup(tree.root, store, keep=2)
        failed.append(caught.value.result["backup_id"])
    # Two failed backups in a row, keep 2: the sound ones stay, and so do the failed ones.
    assert store.backup_ids() == sound + failed
    assert image.layers[0] in stored(store)
    damaged[0].write_bytes(content)  # the registry is repaired: the next backup is sound
    healed = backup(tree.root, store, keep=2)
    assert healed.verification == "verified" and healed.recopied == [image.layers[0]]
    assert healed.pruned is not None
    assert healed.pruned["deleted"] == [sound[0], failed[0]]
    assert store.backup_ids() == [sound[1], failed[1], healed.backup_id]
    assert healed.pruned["kept_sound"] == [sound[1]]  # the newest 2 hold a corrupt one
    assert kept_text(healed.pruned) == (
        "kept 3: the newest 2 (docker_registry.backups.keep) "
        "and 1 older sound one, as newer ones are corrupt"
    )
