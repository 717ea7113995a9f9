"""Sweeping: repositories, uploads, the grace period, and runs stopped half way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.content.repositories import mark_deleted
from registry.maintenance.gc.collect import GCOptions, collect_garbage
from tests.maintenance.trees import NO_GRACE, Tree, garbage_tree
from tests.maintenance.trees import collect as gc


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


# -- repositories ---------------------------------------------------------------------------


def test_soft_deleted_repository_is_removed_with_its_blobs(tree: Tree) -> None:
    base = tree.blob(b"base")
    gone = tree.image("team/gone", "1.0", shared=(base,))
    nested = tree.image("team/gone/nested", "1.0")
    kept = tree.image("team/kept", "1.0", shared=(base,))
    mark_deleted(tree.driver, "team/gone")

    result = gc(tree)

    assert result.repositories_deleted == ["team/gone"]
    assert not tree.exists(layout.manifests_root("team/gone"))
    assert not tree.exists(layout.layers_root("team/gone"))
    assert not tree.exists(layout.deleted_marker("team/gone"))
    assert not any(tree.has_blob(d) for d in gone.blobs if d != base)
    assert all(tree.has_blob(d) for d in (*kept.blobs, *nested.blobs))
    assert tree.has_revision("team/gone/nested", nested.manifest)


def test_soft_deleted_repository_loses_its_referrers_index(tree: Tree) -> None:
    subject = tree.image("gone", "1.0")
    tree.image("gone", layers=1, subject=subject.manifest)
    mark_deleted(tree.driver, "gone")

    gc(tree)

    assert not tree.exists(layout.referrers_repo_root("gone"))


def test_repository_left_without_manifests_is_removed(tree: Tree) -> None:
    tree.image("app", "keep")
    tree.image("scratch")
    tree.tags_folder("scratch")

    result = gc(tree, delete_untagged=True)

    assert result.repositories_deleted == ["scratch"]
    assert not tree.exists(layout.repository("scratch"))
    assert tree.exists(layout.repository("app"))


def test_repository_with_only_old_links_is_removed(tree: Tree) -> None:
    digest = tree.blob(b"abandoned push")
    used = tree.image("app", "1.0")
    tree.link("abandoned", digest)
    tree.link("abandoned", used.layers[0])
    tree.age_all()

    result = gc(tree, grace_period=timedelta(hours=1))

    assert result.repositories_deleted == ["abandoned"]
    assert not tree.exists(layout.repository("abandoned"))
    assert not tree.has_blob(digest) and tree.has_blob(used.layers[0])


def test_repository_with_a_recent_link_and_no_manifest_is_kept(tree: Tree) -> None:
    used = tree.image("app", "1.0")
    tree.age_all()
    tree.link("mounting", used.layers[0])  # a push under way: blobs first, manifest last

    result = gc(tree, grace_period=timedelta(hours=1))

    assert result.repositories_deleted == []
    assert tree.has_link("mounting", used.layers[0])


def test_repository_pushing_its_first_blobs_is_kept(tree: Tree) -> None:
    tree.image("app", "1.0")
    tree.age_all()
    tree.link("new", tree.blob(b"first layer of a push under way"))

    result = gc(tree, grace_period=timedelta(hours=1))

    assert result.repositories_deleted == [] and tree.exists(layout.layers_root("new"))


def test_links_of_deleted_blobs_stay_unless_asked(tree: Tree) -> None:
    gone = tree.image("app", "1.0")
    tree.image("app", "1.0")

    result = gc(tree, delete_untagged=True)

    assert not tree.has_blob(gone.layers[0]) and tree.has_link("app", gone.layers[0])
    assert result.layer_links_deleted == 0


def test_dangling_links_are_removed_when_asked(tree: Tree) -> None:
    image = tree.image("app", "1.0")
    gone = tree.blob(b"deleted by an earlier Distribution GC")
    tree.link("app", gone)
    tree.driver.delete(layout.blob_dir(gone))
    tree.age_all()

    result = gc(tree, grace_period=NO_GRACE, remove_layer_links=True)

    assert not tree.has_link("app", gone) and result.layer_links_deleted == 1
    assert all(tree.has_link("app", d) for d in image.blobs)


def test_repository_with_a_young_upload_is_kept(tree: Tree) -> None:
    tree.upload("pushing", datetime.now(UTC))

    result = gc(tree, grace_period=timedelta(hours=1))

    assert result.repositories_deleted == []
    assert tree.exists(layout.uploads_root("pushing"))


# -- uploads and the grace period -----------------------------------------------------------


def test_stale_uploads_are_purged_and_young_ones_kept(tree: Tree) -> None:
    tree.image("app", "1.0")
    stale = tree.upload("app", datetime.now(UTC) - timedelta(hours=3), size=100)
    young = tree.upload("app", datetime.now(UTC) - timedelta(minutes=5))

    result = gc(tree, grace_period=timedelta(hours=1))

    assert not tree.exists(layout.upload_dir("app", stale))
    assert tree.exists(layout.upload_dir("app", young))
    assert (result.uploads_purged, result.upload_bytes_freed) == (1, 100)


def test_uploads_stay_when_purging_is_off(tree: Tree) -> None:
    upload = tree.upload("app", datetime.now(UTC) - timedelta(days=3))

    gc(tree, purge_uploads=False)

    assert tree.exists(layout.upload_dir("app", upload))


def test_young_unreferenced_blob_is_protected_and_old_one_deleted(tree: Tree) -> None:
    old = tree.blob(b"old orphan")
    tree.age_all()
    young = tree.blob(b"just uploaded, manifest not pushed yet")

    result = gc(tree, grace_period=timedelta(hours=1))

    assert tree.has_blob(young) and not tree.has_blob(old)
    assert result.blobs_protected == 1


def test_young_untagged_manifest_keeps_its_blobs(tree: Tree) -> None:
    tree.image("app", "1.0")
    tree.age_all()
    pushing = tree.image("app")  # e.g. an index's child pushed a moment before the index

    gc(tree, delete_untagged=True, grace_period=timedelta(hours=1))

    assert tree.has_revision("app", pushing.manifest)
    assert all(tree.has_blob(d) for d in pushing.blobs)


def test_recent_link_protects_an_old_unreferenced_blob(tree: Tree) -> None:
    digest = tree.blob(b"old layer")
    tree.link("first", digest)
    tree.age_all()
    tree.link("second", digest)  # a cross-repository mount just now

    gc(tree, grace_period=timedelta(hours=1))

    assert tree.has_blob(digest) and tree.has_link("second", digest)


def test_files_written_during_the_run_are_young_even_without_grace(tree: Tree) -> None:
    tree.image("app")
    tree.blob(b"orphan")
    tree.age_path("/", timedelta(seconds=-3600))  # in the future: written "after" the start

    result = gc(tree, delete_untagged=True, grace_period=NO_GRACE)

    assert result.blobs_deleted == 0


class StopIn:
    """should_stop() that says yes after `checks` checks within phase `phase`."""

    def __init__(self, phase: str, checks: int) -> None:
        self.phase, self.checks = phase, checks
        self.current = ""

    def progress(self, phase: str, done: int, total: int | None) -> None:
        self.current = phase

    def __call__(self) -> bool:
        if self.current == self.phase:
            self.checks -= 1
        return self.checks < 0


@pytest.mark.parametrize(
    ("phase", "checks"),
    [
        ("scan_blobs", 3),
        ("delete_repositories", 0),
        ("delete_manifests", 2),
        ("delete_layer_links", 0),
        ("delete_blobs", 1),
        ("delete_blobs", 2),
        ("purge_uploads", 0),
    ],
)
def test_cancelled_run_leaves_a_tree_the_next_run_finishes(
    tmp_path: Path, tree: Tree, phase: str, checks: int
) -> None:
    garbage_tree(tree)
    for n in range(150):  # enough garbage for several units of work per phase
        tree.blob(f"orphan {n}".encode())
    tree.age_all(timedelta(days=2))
    reference = tree.copy_to(tmp_path / "reference")
    options = GCOptions(
        delete_untagged=True, grace_period=NO_GRACE, workers=1, remove_layer_links=True
    )
    collect_garbage(reference.driver, options)
    stop = StopIn(phase, checks)

    first = collect_garbage(tree.driver, options, should_stop=stop, progress=stop.progress)
    second = collect_garbage(tree.driver, options)

    assert first.cancelled and not second.cancelled
    assert first.phases[-1].name == phase
    assert tree.files() == reference.files()


def test_cancelled_while_marking_deletes_nothing(tree: Tree) -> None:
    garbage_tree(tree)
    before = tree.files()

    result = gc(tree, delete_untagged=True, should_stop=lambda: True)

    assert result.cancelled and tree.files() == before
