"""What a GC run says it kept and why: the grace period, uploads, references (gc/kept.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.content.repositories import mark_deleted
from registry.maintenance.gc.kept import kept_lines
from tests.maintenance.trees import NO_GRACE, Image, Tree
from tests.maintenance.trees import collect as gc

HOUR = timedelta(hours=1)


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


def sizes(tree: Tree, image: Image) -> int:
    return sum(tree.driver.stat(layout.blob_data(d)).size for d in image.blobs)


def written(tree: Tree, image: Image) -> datetime:
    return max(tree.driver.stat(layout.blob_data(d)).mod_time for d in image.blobs)


def deleted_repository_just_pushed(tree: Tree) -> Image:
    """The issue's case: an image pushed a moment ago, its repository deleted at once."""
    kept = tree.image("other/app", "v1")
    tree.age_all(timedelta(days=1))
    image = tree.image("team/app", "v1", layers=2)
    mark_deleted(tree.driver, "team/app")
    assert kept.manifest not in image.blobs
    return image


def test_a_deleted_repository_s_young_blobs_are_named_as_kept_by_the_grace_period(
    tree: Tree,
) -> None:
    image = deleted_repository_just_pushed(tree)

    result = gc(tree, grace_period=HOUR)

    assert (result.blobs_deleted, result.bytes_freed) == (0, 0)
    young = json.loads(json.dumps(result.to_dict()))["kept"]["grace_period"]
    assert (young["blobs"], young["bytes"]) == (4, sizes(tree, image))
    collectable = datetime.fromisoformat(young["collectable_after"])
    youngest = written(tree, image) + HOUR
    assert youngest <= collectable <= youngest + timedelta(seconds=1)
    assert young["free_now_with"] == {
        "param": "grace_period",
        "value": 0,
        "flag": "--grace-period 0",
    }
    assert f"kept 4 blobs ({sizes(tree, image)} bytes) and 0 manifests younger than the " in (
        result.summary()
    )
    assert f"grace period (1h): collectable from {young['collectable_after']}, or now with " in (
        result.summary()
    )
    assert result.summary().endswith(
        "; kept 4 blobs and 1 manifest in use (referenced by kept manifests)"
    )


def test_with_no_grace_period_the_same_blobs_are_freed_and_none_kept(tree: Tree) -> None:
    image = deleted_repository_just_pushed(tree)
    size = sizes(tree, image)

    result = gc(tree, grace_period=NO_GRACE)

    assert (result.blobs_deleted, result.bytes_freed) == (4, size)
    assert not any(tree.has_blob(d) for d in image.blobs)
    young = result.to_dict()["kept"]["grace_period"]
    assert young == {
        "blobs": 0,
        "bytes": 0,
        "manifests": 0,
        "collectable_after": None,
        "free_now_with": None,
    }
    assert "grace period" not in result.summary()


def test_a_dry_run_says_what_it_would_keep(tree: Tree) -> None:
    deleted_repository_just_pushed(tree)

    result = gc(tree, grace_period=HOUR, dry_run=True)

    assert result.to_dict()["kept"]["grace_period"]["blobs"] == 4
    assert "; would keep 4 blobs (" in result.summary()


def test_young_untagged_manifests_count_with_the_blobs_only_they_use(tree: Tree) -> None:
    tree.image("app", "v1")
    old = tree.image("app", "v0")
    tree.age_all(timedelta(days=1))
    tree.untag("app", "v0")
    young = tree.image("app", "v2", layers=1)
    tree.untag("app", "v2")

    result = gc(tree, grace_period=HOUR, delete_untagged=True)

    assert not tree.has_blob(old.manifest) and tree.has_revision("app", young.manifest)
    kept = result.to_dict()["kept"]
    assert kept["grace_period"]["manifests"] == 1
    assert (kept["grace_period"]["blobs"], kept["grace_period"]["bytes"]) == (3, sizes(tree, young))
    assert kept["referenced"] == {"blobs": 4, "manifests": 1}


def test_blobs_linked_within_the_grace_period_are_kept_by_it(tree: Tree) -> None:
    tree.image("app", "v1")
    orphan = tree.blob(b"mounted a moment ago")
    tree.age_all(timedelta(days=1))
    tree.link("app", orphan)  # a cross-repository mount: the manifest follows

    result = gc(tree, grace_period=HOUR)

    assert tree.has_blob(orphan) and result.blobs_protected == 1
    young = result.to_dict()["kept"]["grace_period"]
    assert (young["blobs"], young["bytes"]) == (1, len(b"mounted a moment ago"))


def test_uploads_active_within_the_grace_period_are_kept_and_named(tree: Tree) -> None:
    tree.image("app", "v1")
    tree.age_all(timedelta(days=1))
    now = datetime.now(UTC)
    tree.upload("app", now, size=100)
    tree.upload("app", now - timedelta(days=1), size=7)

    result = gc(tree, grace_period=HOUR)

    assert result.uploads_purged == 1
    uploads = result.to_dict()["kept"]["uploads"]
    assert (uploads["uploads"], uploads["bytes"]) == (1, 100)
    assert uploads["reason"] == "active within the grace period"
    assert uploads["free_now_with"] is not None
    line = "kept 1 upload (100 bytes): active within the grace period (1h); collectable from "
    assert line in result.summary()


def test_uploads_are_all_kept_when_purging_them_is_off(tree: Tree) -> None:
    tree.upload("app", datetime.now(UTC) - timedelta(days=1), size=7)

    result = gc(tree, grace_period=HOUR, purge_uploads=False)

    uploads = result.to_dict()["kept"]["uploads"]
    assert (uploads["uploads"], uploads["reason"], uploads["collectable_after"]) == (
        1,
        "purge_uploads is off",
        None,
    )
    assert "kept 1 upload (7 bytes): purge_uploads is off" in result.summary()


def test_kept_lines_read_the_task_result_alone() -> None:
    kept = {
        "grace_period": {
            "blobs": 2,
            "bytes": 2048,
            "manifests": 1,
            "collectable_after": "2026-01-01T01:00:00Z",
            "free_now_with": {"param": "grace_period", "value": 0, "flag": "--grace-period 0"},
        },
        "uploads": {"uploads": 0, "bytes": 0, "reason": "", "collectable_after": None},
        "referenced": {"blobs": 0, "manifests": 0},
    }

    assert kept_lines(kept, 5400, dry_run=True) == [
        "would keep 2 blobs (2.0 KiB) and 1 manifest younger than the grace period (1h30m): "
        "collectable from 2026-01-01T01:00:00Z, or now with --grace-period 0"
    ]
