"""The usage algorithm on trees built in storage whose sizes the tests know, on the
filesystem and on S3 (moto): size against unique bytes of shared blobs, namespace totals,
counts, last push times, "would free" as GC's dry run counts it, and a cancel between
repositories. What it reads (no layer data) is in test_usage_reads.py."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.content.repositories import mark_deleted
from registry.maintenance.gc.collect import GCOptions
from registry.maintenance.progress import TaskCancelled
from registry.maintenance.usage import RepositoryUsage, UsageResult, compute_usage
from registry.storage import create_driver
from testbed.emulators import MotoS3
from tests.maintenance.trees import LAYER, NO_GRACE, OCI_MANIFEST, Tree, collect

CONFIG = "application/vnd.oci.image.config.v1+json"


def image(tree: Tree, repo: str, tag: str | None, *layers: bytes) -> str:
    """An image whose descriptors declare the true sizes, as a real push leaves it."""
    config = f"config of {repo} {tag} {len(layers)}".encode()
    for blob in (config, *layers):
        tree.link(repo, tree.blob(blob))
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": LAYER, "digest": _digest(b), "size": len(b)} for b in layers],
    }
    return tree.put_manifest(repo, document, tag)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_size(tree: Tree, digest: str) -> int:
    return tree.driver.stat(layout.blob_data(digest)).size


def manifest_bytes(tree: Tree, digest: str) -> int:
    """The manifest, its config and layers: what it alone adds to a repository."""
    document = json.loads(tree.driver.get_content(layout.blob_data(digest)))
    blobs = [document["config"]["digest"], *(d["digest"] for d in document["layers"])]
    return blob_size(tree, digest) + sum(blob_size(tree, b) for b in blobs)


def usage(tree: Tree, **options: object) -> UsageResult:
    return compute_usage(tree.driver, GCOptions(grace_period=NO_GRACE, **options))  # type: ignore[arg-type]


def by_name(result: UsageResult) -> dict[str, RepositoryUsage]:
    return {r.repository: r for r in result.repositories}


@pytest.fixture(params=["filesystem", "s3"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Tree:
    if request.param == "s3":
        moto: MotoS3 = request.getfixturevalue("moto_s3")
        settings = moto.settings(moto.new_bucket(), rootdirectory="/registry")
        return Tree(tmp_path / "not-used", create_driver("s3", settings))
    return Tree(tmp_path / "storage")


@pytest.fixture()
def fs_tree(tmp_path: Path) -> Tree:
    """On the filesystem only: the test moves files' modification times."""
    return Tree(tmp_path / "storage")


SHARED = b"s" * 5000


def test_a_shared_layer_counts_in_both_sizes_but_in_neither_unique(tree: Tree) -> None:
    first = image(tree, "team/first", "v1", SHARED, b"f" * 300)
    second = image(tree, "team/second", "v1", SHARED, b"g" * 700)

    found = by_name(usage(tree))

    for repo, digest in (("team/first", first), ("team/second", second)):
        assert found[repo].size_bytes == manifest_bytes(tree, digest)
        assert found[repo].unique_bytes == manifest_bytes(tree, digest) - len(SHARED)
    assert found["team/first"].size_bytes - found["team/first"].unique_bytes == len(SHARED)


def test_declared_sizes_match_stat_sizes_of_a_real_push(tree: Tree) -> None:
    image(tree, "team/app", "v1", SHARED, b"x" * 123)
    declared = by_name(usage(tree))["team/app"]
    stat = by_name(compute_usage(tree.driver, GCOptions(grace_period=NO_GRACE), stat_blobs=True))
    assert stat["team/app"] == declared


def test_namespace_and_total_count_a_shared_blob_once(tree: Tree) -> None:
    first = image(tree, "team/first", "v1", SHARED)
    second = image(tree, "team/second", "v1", SHARED)
    solo = image(tree, "solo/app", "v1", SHARED, b"o" * 900)

    result = usage(tree)
    namespaces = {n.namespace: n for n in result.namespaces}

    team = manifest_bytes(tree, first) + manifest_bytes(tree, second) - len(SHARED)
    assert namespaces["team"].size_bytes == team
    assert namespaces["team"].repositories == 2
    assert namespaces["team"].unique_bytes == team - len(SHARED)  # solo uses it too
    assert namespaces["solo"].size_bytes == manifest_bytes(tree, solo)
    assert result.total_bytes == team + manifest_bytes(tree, solo) - len(SHARED)
    assert result.blobs == 3 * 2 + 1 + 1  # per image: manifest and config; SHARED; o-layer


def test_counts_every_manifest_and_only_tags_of_manifests_still_there(tree: Tree) -> None:
    kept = image(tree, "team/app", "v1", b"a" * 10)
    tree.tag("team/app", "latest", kept)
    image(tree, "team/app", None, b"b" * 10)  # pushed by digest: no tag
    gone = image(tree, "team/app", "old", b"c" * 10)
    tree.delete_manifest("team/app", gone)  # `old` now names a manifest the repo lacks

    found = by_name(usage(tree))["team/app"]

    assert (found.manifests, found.tags) == (2, 2)


def test_last_push_is_the_newest_tag_move_and_none_without_tags(fs_tree: Tree) -> None:
    tree = fs_tree
    for repo, days in (("team/old", 3), ("team/new", 1)):
        image(tree, repo, "v1", repo.encode())
        tree.age_path(layout.tag_dir(repo, "v1"), timedelta(days=days))
    image(tree, "team/new", "v2", b"second")
    tree.age_path(layout.tag_dir("team/new", "v2"), timedelta(hours=2))
    image(tree, "team/bare", None, b"bare")

    found = by_name(usage(tree))

    new, old = found["team/new"].last_push_at, found["team/old"].last_push_at
    assert new is not None and old is not None
    # new: its v2 moved 2 hours ago (v1, a day ago, is older); old: 3 days ago
    assert abs((new - old) - (timedelta(days=3) - timedelta(hours=2))) < timedelta(minutes=1)
    pushed = sorted((r.last_push_at, r.repository) for r in found.values() if r.last_push_at)
    assert [name for _, name in pushed] == ["team/old", "team/new"]
    assert found["team/bare"].last_push_at is None


def test_would_free_what_gc_frees_after_a_manifest_is_deleted(tree: Tree) -> None:
    image(tree, "team/first", "v1", SHARED)
    doomed = image(tree, "team/second", "v1", SHARED, b"d" * 4000)
    assert usage(tree).gc_would_free_bytes == 0

    tree.delete_manifest("team/second", doomed)
    expected = manifest_bytes(tree, doomed) - len(SHARED)
    result = usage(tree)

    assert result.gc_would_free_bytes == expected
    assert by_name(result)["team/second"].size_bytes == 0
    assert collect(tree, dry_run=True).bytes_freed == expected
    assert collect(tree).bytes_freed == expected
    assert usage(tree).gc_would_free_bytes == 0


def test_would_free_respects_the_grace_period(tree: Tree) -> None:
    doomed = image(tree, "team/app", "v1", b"y" * 100)
    tree.delete_manifest("team/app", doomed)
    graced = compute_usage(tree.driver, GCOptions(grace_period=timedelta(hours=1)))
    assert graced.gc_would_free_bytes == 0
    assert usage(tree).gc_would_free_bytes == manifest_bytes(tree, doomed)


def test_soft_deleted_repositories_are_not_listed_and_would_be_freed(tree: Tree) -> None:
    digest = image(tree, "team/gone", "v1", b"z" * 100)
    mark_deleted(tree.driver, "team/gone")
    result = usage(tree)
    assert result.repositories == []
    assert result.gc_would_free_bytes == manifest_bytes(tree, digest)


def test_a_cancel_stops_between_repositories(tree: Tree) -> None:
    for n in range(4):
        image(tree, f"team/r{n}", "v1", bytes([n]) * 10)
    phases: list[str] = []

    def stop_in_tags() -> bool:
        return "usage_tags" in phases

    with pytest.raises(TaskCancelled):
        compute_usage(
            tree.driver,
            GCOptions(grace_period=NO_GRACE),
            progress=lambda phase, done, total: phases.append(phase),
            should_stop=stop_in_tags,
        )
    assert phases[-1] == "usage_tags" and "usage_sizes" in phases


def test_blobs_no_descriptor_sizes_are_sized_with_a_stat(tree: Tree) -> None:
    layer = tree.blob(b"q" * 321)
    tree.link("old/schema1", layer)
    document = {"schemaVersion": 1, "name": "old/schema1", "fsLayers": [{"blobSum": layer}]}
    digest = tree.put_manifest("old/schema1", document, "v1")

    found = by_name(usage(tree))["old/schema1"]

    assert found.size_bytes == blob_size(tree, digest) + 321


def test_last_push_is_when_the_tag_was_written(tree: Tree) -> None:
    """On every driver: the `stat` time of the tag link (object stores set it on write)."""
    before = datetime.now(UTC) - timedelta(seconds=2)  # moto's times have whole seconds
    image(tree, "team/app", "v1", b"p" * 10)
    after = datetime.now(UTC) + timedelta(seconds=1)

    pushed = by_name(usage(tree))["team/app"].last_push_at

    assert pushed is not None and before <= pushed <= after
