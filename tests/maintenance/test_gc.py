"""GC on trees built directly in storage: what stays, what goes, and how a run reports it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.config import GCSettings
from registry.content.links import write_link
from registry.content.repositories import mark_deleted
from registry.maintenance.gc import GCError, GCOptions, Params, collect_garbage, options_from_params
from registry.maintenance.gc_result import GCResult
from tests.maintenance.trees import DOCKER_LIST, DOCKER_MANIFEST, Tree

NO_GRACE = timedelta(0)


def gc(tree: Tree, should_stop: Callable[[], bool] | None = None, **options: Any) -> GCResult:
    options.setdefault("grace_period", NO_GRACE)
    return collect_garbage(tree.driver, GCOptions(**options), should_stop=should_stop)


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


# -- tags, untagged manifests, shared layers --------------------------------------------------


def test_shared_layer_survives_when_one_repository_drops_its_image(tree: Tree) -> None:
    base = tree.blob(b"shared base layer")
    old = tree.image("app", "1.0", shared=(base,))
    tree.image("app", "1.0", shared=(base,))  # overwrites the tag
    other = tree.image("other", "latest", shared=(base,))

    result = gc(tree, delete_untagged=True)

    assert tree.has_blob(base) and tree.has_link("app", base) and tree.has_link("other", base)
    assert not any(tree.has_blob(d) for d in (old.manifest, old.config, *old.layers[1:]))
    assert all(tree.has_blob(d) for d in other.blobs)
    assert result.blobs_deleted == 4 and result.manifests_deleted == 1


def test_overwritten_tag_keeps_old_manifest_without_delete_untagged(tree: Tree) -> None:
    old = tree.image("app", "1.0")
    tree.image("app", "1.0")

    result = gc(tree)

    assert tree.has_revision("app", old.manifest)
    assert all(tree.has_blob(d) for d in old.blobs)
    assert result.blobs_deleted == 0 and result.manifests_deleted == 0


def test_delete_untagged_removes_revision_and_tag_history_entry(tree: Tree) -> None:
    old = tree.image("app", "1.0")
    new = tree.image("app", "1.0")

    gc(tree, delete_untagged=True)

    assert not tree.has_revision("app", old.manifest)
    assert not tree.exists(layout.tag_index_link("app", "1.0", old.manifest))
    assert tree.exists(layout.tag_index_link("app", "1.0", new.manifest))
    assert not any(tree.has_link("app", d) for d in old.blobs)  # links of swept blobs go too
    assert all(tree.has_link("app", d) for d in new.blobs)


def test_manifest_tagged_elsewhere_loses_only_its_untagged_revision(tree: Tree) -> None:
    image = tree.image("a", "v1")
    tree.put_manifest("b", json.loads(tree.driver.get_content(layout.blob_data(image.manifest))))
    tree.tags_folder("b")

    gc(tree, delete_untagged=True)

    assert tree.has_revision("a", image.manifest) and not tree.has_revision("b", image.manifest)
    assert all(tree.has_blob(d) for d in image.blobs)


def test_deleted_manifest_blobs_and_links_are_swept(tree: Tree) -> None:
    kept = tree.image("app", "1.0")
    gone = tree.image("app", "2.0")
    tree.untag("app", "2.0")
    tree.delete_manifest("app", gone.manifest)

    result = gc(tree)

    assert not any(tree.has_blob(d) or tree.has_link("app", d) for d in gone.blobs)
    assert all(tree.has_blob(d) for d in kept.blobs)
    assert sorted(result.deleted_blobs) == sorted(gone.blobs)


def test_schema2_and_schema1_references_are_followed(tree: Tree) -> None:
    docker = tree.image("app", "docker", media_type=DOCKER_MANIFEST)
    layer = tree.blob(b"schema1 layer")
    schema1 = tree.put_manifest(
        "app", {"schemaVersion": 1, "fsLayers": [{"blobSum": layer}]}, tag="old"
    )

    result = gc(tree, delete_untagged=True)

    assert all(tree.has_blob(d) for d in (*docker.blobs, layer, schema1))
    assert result.blobs_deleted == 0


# -- indexes --------------------------------------------------------------------------------


def test_children_of_a_tagged_index_survive_delete_untagged(tree: Tree) -> None:
    amd64, arm64 = tree.image("multi"), tree.image("multi")
    index = tree.index("multi", [amd64.manifest, arm64.manifest], tag="latest")

    result = gc(tree, delete_untagged=True)

    for child in (amd64, arm64):
        assert tree.has_revision("multi", child.manifest)
        assert all(tree.has_blob(d) for d in child.blobs)
    assert tree.has_blob(index) and result.blobs_deleted == 0


def test_children_pushed_through_another_repository_survive(tree: Tree) -> None:
    child = tree.image("builds")  # untagged in the repository it was pushed through
    tree.tags_folder("builds")
    tree.index("release", [child.manifest], tag="1.0", media_type=DOCKER_LIST)

    gc(tree, delete_untagged=True)

    assert tree.has_revision("builds", child.manifest)
    assert all(tree.has_blob(d) for d in child.blobs)


def test_untagged_index_goes_with_its_children(tree: Tree) -> None:
    child = tree.image("multi")
    index = tree.index("multi", [child.manifest], tag="latest")
    tree.untag("multi", "latest")
    tree.image("multi", "keep")

    gc(tree, delete_untagged=True)

    assert not tree.has_blob(index) and not tree.has_revision("multi", child.manifest)
    assert not any(tree.has_blob(d) for d in child.blobs)


def test_child_without_revision_keeps_its_blob_but_not_its_layers(tree: Tree) -> None:
    # As Distribution: a child deleted through the API is kept as a blob; its layers go.
    child = tree.image("multi")
    tree.index("multi", [child.manifest], tag="latest")
    tree.delete_manifest("multi", child.manifest)

    gc(tree)

    assert tree.has_blob(child.manifest)
    assert not any(tree.has_blob(d) for d in (child.config, *child.layers))


# -- referrers ------------------------------------------------------------------------------


def test_referrer_lives_while_its_subject_is_tagged(tree: Tree) -> None:
    subject = tree.image("app", "1.0")
    signature = tree.image("app", layers=1, subject=subject.manifest)

    gc(tree, delete_untagged=True)

    assert tree.has_revision("app", signature.manifest)
    assert all(tree.has_blob(d) for d in signature.blobs)


def test_referrer_goes_with_its_untagged_subject(tree: Tree) -> None:
    subject = tree.image("app", "1.0")
    signature = tree.image("app", layers=1, subject=subject.manifest)
    sbom_signature = tree.image("app", layers=1, subject=signature.manifest)
    tree.image("app", "1.0")  # the subject loses its tag

    gc(tree, delete_untagged=True)

    for gone in (subject, signature, sbom_signature):
        assert not tree.has_revision("app", gone.manifest)
        assert not any(tree.has_blob(d) for d in gone.blobs)
    assert not tree.exists(layout.referrers_dir("app", subject.manifest))


def test_referrer_of_deleted_subject_goes_even_without_delete_untagged(tree: Tree) -> None:
    subject = tree.image("app", "1.0")
    signature = tree.image("app", layers=1, subject=subject.manifest)
    tree.untag("app", "1.0")
    tree.delete_manifest("app", subject.manifest)

    result = gc(tree)

    assert not tree.has_revision("app", signature.manifest)
    assert not any(tree.has_blob(d) for d in signature.blobs)
    assert not tree.exists(layout.referrer_link("app", subject.manifest, signature.manifest))
    assert result.manifests_deleted == 1


def test_tagged_referrer_stays_after_its_subject(tree: Tree) -> None:
    subject = tree.image("app", "1.0")
    signature = tree.image("app", "sig", layers=1, subject=subject.manifest)
    tree.image("app", "1.0")

    gc(tree, delete_untagged=True)

    assert tree.has_revision("app", signature.manifest)
    assert not tree.has_revision("app", subject.manifest)


def test_referrer_in_another_repository_does_not_keep_subject_alive(tree: Tree) -> None:
    subject = tree.image("app", "1.0")
    elsewhere = tree.image("other", layers=1, subject=subject.manifest)
    tree.tags_folder("other")

    gc(tree, delete_untagged=True)

    assert not tree.has_revision("other", elsewhere.manifest)  # no subject in "other"
    assert tree.has_revision("app", subject.manifest)


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


def test_dangling_links_are_removed(tree: Tree) -> None:
    image = tree.image("app", "1.0")
    gone = tree.blob(b"deleted by an earlier Distribution GC")
    tree.link("app", gone)
    tree.driver.delete(layout.blob_dir(gone))
    tree.age_all()

    result = gc(tree, grace_period=NO_GRACE)

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


# -- dry run, results, cancellation, errors -------------------------------------------------


def _garbage_tree(tree: Tree) -> None:
    base = tree.blob(b"base")
    for n in range(3):
        tree.image(f"repo{n}", "1.0", shared=(base,))
        tree.image(f"repo{n}", "1.0", shared=(base,))
    tree.image("gone", "1.0")
    mark_deleted(tree.driver, "gone")
    tree.upload("repo0", datetime.now(UTC) - timedelta(days=2))
    tree.age_all(timedelta(days=2))


def test_dry_run_changes_nothing_and_predicts_the_real_run(tree: Tree) -> None:
    _garbage_tree(tree)
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
    _garbage_tree(tree)

    result = gc(tree, delete_untagged=True)

    document = json.loads(json.dumps(result.to_dict()))
    assert "deleted_blobs" not in document
    phases = {p["name"]: p for p in document["phases"]}
    assert phases["delete_blobs"]["items"] == result.blobs_deleted
    assert phases["delete_blobs"]["bytes"] == result.bytes_freed
    assert len(result.to_dict(include_deleted_blobs=True)["deleted_blobs"]) == 16


def test_progress_reports_every_phase(tree: Tree) -> None:
    _garbage_tree(tree)
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
    _garbage_tree(tree)
    for n in range(150):  # enough garbage for several units of work per phase
        tree.blob(f"orphan {n}".encode())
    tree.age_all(timedelta(days=2))
    reference = tree.copy_to(tmp_path / "reference")
    gc(reference, delete_untagged=True, workers=1)
    stop = StopIn(phase, checks)

    first = collect_garbage(
        tree.driver,
        GCOptions(delete_untagged=True, grace_period=NO_GRACE, workers=1),
        should_stop=stop,
        progress=stop.progress,
    )
    second = gc(tree, delete_untagged=True, workers=1)

    assert first.cancelled and not second.cancelled
    assert first.phases[-1].name == phase
    assert tree.files() == reference.files()


def test_cancelled_while_marking_deletes_nothing(tree: Tree) -> None:
    _garbage_tree(tree)
    before = tree.files()

    result = gc(tree, delete_untagged=True, should_stop=lambda: True)

    assert result.cancelled and tree.files() == before


def test_unreadable_manifest_stops_gc_before_any_delete(tree: Tree) -> None:
    _garbage_tree(tree)
    digest = tree.blob(b"\x00 not json")
    tree.link("broken", digest)
    write_link(tree.driver, layout.revision_link("broken", digest), digest)
    before = tree.files()

    with pytest.raises(GCError, match=digest):
        gc(tree)
    assert tree.files() == before


def test_revision_without_blob_data_is_left_alone(tree: Tree) -> None:
    image = tree.image("app", "1.0")
    missing = tree.image("app")
    tree.driver.delete(layout.blob_dir(missing.manifest))

    gc(tree, delete_untagged=True)

    assert tree.has_revision("app", missing.manifest)  # like Distribution: skipped
    assert all(tree.has_blob(d) for d in image.blobs)


def test_params_default_to_the_configured_gc_section() -> None:
    defaults = GCSettings(delete_untagged=True, grace_period="2h")

    options = options_from_params(Params(dry_run=True), defaults)

    assert options.dry_run and options.delete_untagged
    assert options.grace_period == timedelta(hours=2)
    assert options_from_params(Params(grace_period="0"), defaults).grace_period == NO_GRACE
    with pytest.raises(ValueError, match="grace_period"):
        Params(grace_period="soon")
