"""Verify re-hashes every blob of a backup and names what is corrupt by path and digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.maintenance.backup.catalog import catalog
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.backup.verify import verify_backup
from tests.maintenance.backup_support import Recorder, backup
from tests.maintenance.trees import Image, Tree


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


@pytest.fixture()
def store(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "backups")


@pytest.fixture()
def image(tree: Tree) -> Image:
    return tree.image("team/app", "v1", layers=3)


def flip_one_byte(path: Path, offset: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_fresh_backup_verifies_clean(tree: Tree, store: BackupStore, image: Image) -> None:
    backup_id = backup(tree.root, store, verify=False).backup_id
    assert store.verification(backup_id) is None
    recorder = Recorder()
    found = verify_backup(store, backup_id, recorder.progress())
    assert (found.state, found.problem_count, found.blobs_checked) == ("verified", 0, 5)
    assert store.verification(backup_id) == found
    assert recorder.reports[-1].phase == "verify"
    assert recorder.reports[-1].done == recorder.reports[-1].total


def test_one_corrupt_byte_is_named_by_path_and_digest(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    backup_id = backup(tree.root, store).backup_id
    corrupt = image.layers[1]
    flip_one_byte(store.blob_path(corrupt), offset=3)
    recorder = Recorder()
    found = verify_backup(store, backup_id, recorder.progress())
    assert (found.state, found.problem_count) == ("corrupt", 1)
    [problem] = found.problems
    assert (problem.path, problem.digest) == (str(store.blob_path(corrupt)), corrupt)
    assert problem.problem.startswith("content hashes to sha256:")
    assert f"corrupt: {store.blob_path(corrupt)} ({corrupt})" in recorder.text()
    [listed] = catalog(store)
    assert listed.state == "corrupt"


def test_a_missing_blob_and_a_damaged_metadata_archive_are_reported(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    backup_id = backup(tree.root, store).backup_id
    store.blob_path(image.config).unlink()
    flip_one_byte(store.metadata_path(backup_id))
    found = verify_backup(store, backup_id, Recorder().progress())
    problems = {(p.path, p.problem.split(" ")[0]) for p in found.problems}
    assert problems == {
        (str(store.blob_path(image.config)), "missing"),
        (str(store.metadata_path(backup_id)), "content"),
    }


def test_the_backup_task_repairs_a_corrupt_stored_blob_from_the_registry(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    backup(tree.root, store)
    flip_one_byte(store.blob_path(image.layers[0]))
    # The next backup trusts the stored copy (same size) but its verification re-copies it.
    second = backup(tree.root, store)
    assert (second.blobs_copied, second.verification) == (0, "verified")
    live = tree.root / layout.blob_data(image.layers[0]).lstrip("/")
    assert store.blob_path(image.layers[0]).read_bytes() == live.read_bytes()
