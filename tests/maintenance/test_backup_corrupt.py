"""A backup that holds a corrupt blob fails, names it (digest, repositories, how many) and is
kept; the next backup copies bad stored copies again, or says why it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.maintenance.backup.problems import BackupCorrupt
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
    return tree.image("team/app", "v1", layers=2)


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


def live(tree: Tree, digest: str) -> Path:
    return tree.local(layout.blob_data(digest))


def failed_backup(tree: Tree, store: BackupStore, **options: bool) -> BackupCorrupt:
    with pytest.raises(BackupCorrupt) as caught:
        backup(tree.root, store, **options)
    return caught.value


def test_a_blob_corrupt_in_the_registry_fails_the_backup_naming_it(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    shared = image.layers[0]
    tree.image("team/base", "v1", layers=1, shared=(shared,))
    flip_one_byte(live(tree, shared))
    error = failed_backup(tree, store)
    backup_id = error.result["backup_id"]
    assert str(error).startswith(f"backup {backup_id} is corrupt: 1 of 7 blobs bad: {shared} ")
    assert f"{shared} (team/app, team/base) at {store.blob_path(shared)}: " in str(error)
    assert "the registry's own copy is corrupt too" in str(error)
    assert str(error).endswith(f"kept for inspection in {store.backups / backup_id}")
    # Kept, with the finding on record: for inspection, and for prune to keep apart.
    assert store.backup_ids() == [backup_id]
    verification = store.verification(backup_id)
    assert verification is not None and verification.state == "corrupt"
    assert error.result["verification"] == "corrupt" and error.result["problem_count"] == 1
    [problem] = error.result["problems"]
    assert (problem["digest"], problem["repositories"]) == (shared, ["team/app", "team/base"])


def test_the_error_counts_every_problem_and_names_the_first_five(
    tree: Tree, store: BackupStore
) -> None:
    images = [tree.image(f"team/app{n}", "v1", layers=1) for n in range(7)]
    for each in images:
        flip_one_byte(live(tree, each.layers[0]))
    error = failed_backup(tree, store)
    assert " is corrupt: 7 of 21 blobs bad: " in str(error)
    assert str(error).count("the registry's own copy is corrupt too") == 5
    assert "; and 2 more; kept for inspection in " in str(error)
    assert error.result["problem_count"] == 7 and len(error.result["problems"]) == 7


def test_a_stored_copy_found_bad_is_copied_again_by_the_next_backup(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    first = backup(tree.root, store, verify=False).backup_id
    bad = image.layers[1]
    flip_one_byte(store.blob_path(bad))
    found = verify_backup(store, first, Recorder().progress())  # as `hth-ctl backup verify`
    assert found.state == "corrupt"
    second = backup(tree.root, store, verify=False)  # not even a verify to catch it
    assert second.recopied == [bad] and second.blobs_copied == 1
    assert store.blob_path(bad).read_bytes() == live(tree, bad).read_bytes()
    assert verify_backup(store, first, Recorder().progress()).state == "verified"
    third = backup(tree.root, store, verify=False)  # replaced since: trusted again
    assert (third.recopied, third.blobs_copied) == ([], 0)


def test_a_bad_stored_copy_stays_and_the_backup_fails_when_the_registry_copy_is_bad_too(
    tree: Tree, store: BackupStore, image: Image
) -> None:
    bad = image.config
    flip_one_byte(live(tree, bad))
    first = backup(tree.root, store, verify=False).backup_id  # copies the damage, unseen
    assert verify_backup(store, first, Recorder().progress()).state == "corrupt"
    error = failed_backup(tree, store, verify=False)
    assert f"1 of 1 blobs bad: {bad} (team/app) at {store.blob_path(bad)}: " in str(error)
    assert "the registry's own copy is corrupt too" in str(error)
    assert "nothing sound to copy it from" in str(error)
    assert error.result["recopied"] == [] and error.result["verification"] == "corrupt"
    assert store.backup_ids()[-1] == error.result["backup_id"]
