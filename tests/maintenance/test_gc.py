"""A GC run as a whole: dry run, result, progress, refusals and parameters."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.config import GCSettings
from registry.content.links import write_link
from registry.maintenance.gc.collect import (
    GCError,
    GCOptions,
    collect_garbage,
    options_from_params,
)
from registry.tasks.params import GCParams
from tests.maintenance.trees import NO_GRACE, Tree, garbage_tree
from tests.maintenance.trees import collect as gc


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


def test_dry_run_changes_nothing_and_predicts_the_real_run(tree: Tree) -> None:
    garbage_tree(tree)
    before = tree.files()

    dry = gc(tree, delete_untagged=True, dry_run=True)

    assert tree.files() == before
    real = gc(tree, delete_untagged=True)
    for field in (
        "blobs_deleted",
        "bytes_freed",
        "manifests_deleted",
        "uploads_purged",
        "layer_links_deleted",
        "repositories_deleted",
        "deleted_blobs",
    ):
        assert getattr(dry, field) == getattr(real, field), field
    assert dry.blobs_deleted > 0 and dry.bytes_freed > 0


def test_result_serialises_to_json_with_phases(tree: Tree) -> None:
    garbage_tree(tree)

    result = gc(tree, delete_untagged=True)

    document = json.loads(json.dumps(result.to_dict()))
    assert "deleted_blobs" not in document
    phases = {p["name"]: p for p in document["phases"]}
    assert phases["delete_blobs"]["items"] == result.blobs_deleted
    assert phases["delete_blobs"]["bytes"] == result.bytes_freed
    assert len(result.to_dict(include_deleted_blobs=True)["deleted_blobs"]) == 16


def test_progress_reports_every_phase(tree: Tree) -> None:
    garbage_tree(tree)
    seen: list[tuple[str, int, int | None]] = []
    lines: list[str] = []

    collect_garbage(
        tree.driver,
        GCOptions(grace_period=NO_GRACE),
        progress=lambda phase, done, total: seen.append((phase, done, total)),
        log_line=lines.append,
    )

    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases[0] == "scan_repositories" and phases[-1] == "delete_empty_repositories"
    assert "delete_blobs" in phases and lines[-1].startswith("gc: ")


def test_unreadable_manifest_stops_gc_before_any_delete(tree: Tree) -> None:
    garbage_tree(tree)
    digest = tree.blob(b"\x00 not json")
    tree.link("broken", digest)
    write_link(tree.driver, layout.revision_link("broken", digest), digest)
    before = tree.files()

    with pytest.raises(GCError, match=digest):
        gc(tree)
    assert tree.files() == before


def test_a_manifest_whose_bytes_do_not_match_its_digest_stops_gc_naming_it(tree: Tree) -> None:
    garbage_tree(tree)
    image = tree.image("team/app", "1.0")
    data = tree.local(layout.blob_data(image.manifest))
    # Still a valid manifest, but of other layers: trusting it would free the real ones.
    document = json.loads(data.read_bytes())
    document["layers"] = []
    data.write_bytes(json.dumps(document).encode())
    before = tree.files()

    with pytest.raises(GCError) as stopped:
        gc(tree, delete_untagged=True)

    message = str(stopped.value)
    assert f"manifest {image.manifest} (repository team/app, " in message
    assert layout.blob_data(image.manifest) in message and "content hashes to sha256:" in message
    assert "nothing was deleted" in message and "`hth-ctl verify-storage --repair`" in message
    assert tree.files() == before


def test_revision_without_blob_data_is_left_alone(tree: Tree) -> None:
    image = tree.image("app", "1.0")
    missing = tree.image("app")
    tree.driver.delete(layout.blob_dir(missing.manifest))

    gc(tree, delete_untagged=True)

    assert tree.has_revision("app", missing.manifest)  # like Distribution: skipped
    assert all(tree.has_blob(d) for d in image.blobs)


def test_params_default_to_the_configured_gc_section() -> None:
    defaults = GCSettings(delete_untagged=True, grace_period="2h", workers=8)

    options = options_from_params(GCParams(dry_run=True), defaults)

    assert options.dry_run and options.delete_untagged
    assert options.workers == 8
    assert options.grace_period == timedelta(hours=2)
    assert options_from_params(GCParams(grace_period="0"), defaults).grace_period == NO_GRACE
    with pytest.raises(ValueError, match="grace_period"):
        GCParams(grace_period="soon")
