"""Marking: which manifests and blobs stay, by tags, indexes and referrers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry import layout
from tests.maintenance.trees import DOCKER_LIST, DOCKER_MANIFEST, Tree
from tests.maintenance.trees import collect as gc


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
    assert all(tree.has_link("app", d) for d in (*old.blobs, *new.blobs))  # as Distribution


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

    result = gc(tree, remove_layer_links=True)

    assert not any(tree.has_blob(d) or tree.has_link("app", d) for d in gone.blobs)
    assert all(tree.has_link("app", d) for d in kept.blobs)
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


def test_an_index_elsewhere_keeps_a_childs_blobs_but_not_its_untagged_revision(
    tree: Tree,
) -> None:
    """Distribution's --delete-untagged parity: an untagged manifest in a repository stays
    only for reasons inside it; an index in another repository keeps what it references."""
    child = tree.image("builds")  # untagged in the repository it was pushed through
    tree.tags_folder("builds")
    tree.index("release", [child.manifest], tag="1.0", media_type=DOCKER_LIST)

    gc(tree, delete_untagged=True)

    assert not tree.has_revision("builds", child.manifest)
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
