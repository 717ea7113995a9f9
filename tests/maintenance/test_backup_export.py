"""Export writes one self-contained .tar.zst; restore accepts it in place of a backup id."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from registry.cluster.leases import no_lease
from registry.maintenance.backup.export import export_backup
from registry.maintenance.backup.restore import RestoreError, restore_from_archive
from registry.maintenance.backup.store import BackupStore
from tests.maintenance.backup_support import (
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


def exported(tree: Tree, store: BackupStore, target: Path) -> str:
    app = tree.image("team/app", "v1", layers=2)
    tree.index("team/app", [app.manifest], "multi")
    backup_id = backup(tree.root, store).backup_id
    export_backup(store, backup_id, target, Recorder().progress())
    return backup_id


def members(archive: Path) -> list[str]:
    with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return [member.name for member in tar]


def test_the_archive_holds_the_manifest_the_metadata_and_every_blob(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    archive = tmp_path / "off-site" / "backup.tar.zst"
    backup_id = exported(tree, store, archive)
    names = members(archive)
    blobs = store.manifest(backup_id).blobs
    assert names[:2] == ["manifest.json", "metadata.tar.zst"]
    assert names[2:] == [f"blobs/sha256/{b.digest.removeprefix('sha256:')}" for b in blobs]
    assert [p.name for p in archive.parent.iterdir()] == ["backup.tar.zst"]  # no temp left


def test_restore_from_the_archive_alone_rebuilds_the_registry(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar.zst"
    exported(tree, store, archive)
    expected = metadata_and_blobs(tree.root)
    shutil.rmtree(store.directory)  # the backup disk is lost too: only the archive is left
    shutil.rmtree(tree.root)
    restore_from_archive(archive, tree.root, no_lease, Recorder().progress())
    assert metadata_and_blobs(tree.root) == expected
    assert torn_references(tree.root) == []


def test_a_truncated_archive_is_refused_and_the_live_data_kept(
    tree: Tree, store: BackupStore, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar.zst"
    exported(tree, store, archive)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    tree.image("team/app", "v2")
    live = fingerprint(tree.root)
    with pytest.raises(RestoreError, match="not a readable backup archive"):
        restore_from_archive(archive, tree.root, no_lease, Recorder().progress())
    assert fingerprint(tree.root) == live
    assert [p.name for p in tree.root.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("content", [b"", b"not zstd at all", zstandard.compress(b"x" * 2048)])
def test_a_file_that_is_not_a_backup_archive_is_refused(
    tree: Tree, tmp_path: Path, content: bytes
) -> None:
    tree.image("team/app", "v1")
    bogus = tmp_path / "bogus.tar.zst"
    bogus.write_bytes(content)
    with pytest.raises(RestoreError, match="bogus.tar.zst"):
        restore_from_archive(bogus, tree.root, no_lease, Recorder().progress())
    with pytest.raises(RestoreError, match="no such file"):
        restore_from_archive(
            tmp_path / "absent.tar.zst", tree.root, no_lease, Recorder().progress()
        )
