"""Side by side with Distribution's `docker-registry garbage-collect` on copies of one tree.

On trees without referrers or soft deletes and with no grace period, our GC keeps exactly the
files Distribution keeps, but for the repositories it emptied: Distribution leaves their tag
folders and links, we remove them (docs/gc.md). With `remove_layer_links` we also remove the
`_layers` links of the blobs deleted, which Distribution 2.8 leaves. Distribution also leaves
empty folders, which the comparison ignores (it compares files).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from registry import layout
from registry.content.links import write_link
from registry.maintenance.gc.collect import GCOptions, collect_garbage
from tests.maintenance.trees import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Tree,
)

pytestmark = pytest.mark.e2e

V2 = layout.ROOT.lstrip("/")
_LAYER_LINK = re.compile(rf"{V2}/repositories/(.+?)/_layers/(\w+)/(\w+)/link")
_REPO_FILE = re.compile(rf"{V2}/repositories/(.+?)/_(manifests|layers|uploads)/")
_BLOB_DATA = re.compile(rf"{V2}/blobs/(\w+)/\w\w/(\w+)/data")


def distribution_gc(root: Path, delete_untagged: bool) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-registry")
    assert binary, "Debian's docker-registry is required (scripts/test.sh installs it)"
    config = root.parent / f"{root.name}-config.yml"
    settings = {
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(root)}},
    }
    config.write_text(yaml.safe_dump(settings))
    command = [binary, "garbage-collect", *(["--delete-untagged"] * delete_untagged), str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def our_gc(tree: Tree, delete_untagged: bool, remove_layer_links: bool = False) -> None:
    # Distribution's GC leaves uploads alone (its upload purging is a separate feature).
    options = GCOptions(
        delete_untagged=delete_untagged,
        grace_period=timedelta(0),
        purge_uploads=False,
        remove_layer_links=remove_layer_links,
    )
    collect_garbage(tree.driver, options)


def without_our_extra_cleanup(files: set[str], dangling_links: bool) -> set[str]:
    """Distribution's result minus what we also remove: emptied repositories (no manifest
    revision and no upload left) and, if asked, the links of blobs that are gone."""
    blobs = {f"{m[1]}:{m[2]}" for f in files if (m := _BLOB_DATA.fullmatch(f))}
    kept = {
        f
        for f in files
        if not (
            dangling_links and (m := _LAYER_LINK.fullmatch(f)) and f"{m[2]}:{m[3]}" not in blobs
        )
    }
    holding = {m[1] for f in kept if (m := _REPO_FILE.match(f)) and _holds_content(m)}
    return {f for f in kept if not ((m := _REPO_FILE.match(f)) and m[1] not in holding)}


def _holds_content(match: re.Match[str]) -> bool:
    """A manifest revision or an upload keeps a repository from being empty."""
    return match[2] == "uploads" or match.string[match.end() :].startswith("revisions/")


def random_tree(tree: Tree, seed: int, delete_untagged: bool) -> None:
    """Shared layers, overwritten tags, deleted manifests, nested names, orphans, indexes.

    Under delete_untagged an index is untagged or has only tagged children: Distribution
    deletes the untagged children of a tagged index (see the test below).
    """
    rng = random.Random(seed)
    shared = [tree.blob(f"shared {seed} {n}".encode()) for n in range(6)]
    loose: list[Image] = []  # untagged images left in place: candidates for another index
    for repo in ["alpha", "beta", "gamma", "team/app", "team/app/sub", "team/tools"]:
        tree.tags_folder(repo)  # Distribution's --delete-untagged aborts without one
        images: list[tuple[Image, str | None]] = []
        for _ in range(rng.randint(1, 6)):
            tag = rng.choice([None, None, "latest", "v1", "v2"])
            image = tree.image(
                repo,
                tag,
                layers=rng.randint(0, 3),
                shared=tuple(rng.sample(shared, rng.randint(0, 2))),
                media_type=rng.choice([OCI_MANIFEST, DOCKER_MANIFEST]),
            )
            images.append((image, tag))
        untagged = [image for image, tag in images if tag is None]
        if untagged and rng.random() < 0.5:
            tree.delete_manifest(repo, untagged.pop(0).manifest)
        loose += untagged
        if len(images) > 1 and rng.random() < 0.6:
            _add_index(tree, rng, repo, images, delete_untagged)
    if loose:
        _index_in_another_repository(tree, rng.choice(loose))
    abandoned = tree.blob(f"abandoned push {seed}".encode())
    tree.link("abandoned", abandoned)
    for n in range(rng.randint(0, 4)):
        tree.blob(f"orphan {seed} {n}".encode())
    tree.upload("alpha", datetime.now(UTC) - timedelta(days=9))


def _add_index(
    tree: Tree, rng: random.Random, repo: str, images: list[tuple[Image, str | None]], du: bool
) -> None:
    tag = rng.choice([None, "multi"])
    tagged = tree.tagged(repo)
    children = [i.manifest for i, _ in images if not (du and tag and i.manifest not in tagged)]
    if children:
        tree.index(repo, children, tag, media_type=rng.choice([DOCKER_LIST, OCI_INDEX]))


def _index_in_another_repository(tree: Tree, child: Image) -> None:
    """`child`, untagged where it was pushed, is also pushed (tagged) into `release` and
    listed by a tagged index there: under delete_untagged its revision goes from the first
    repository (nothing there keeps it) and its blobs stay, as with Distribution."""
    tree.tags_folder("release")
    for digest in child.blobs:
        tree.link("release", digest)
    write_link(tree.driver, layout.revision_link("release", child.manifest), child.manifest)
    tree.tag("release", "child", child.manifest)
    tree.index("release", [child.manifest], "1.0")


@pytest.mark.parametrize("links", [False, True], ids=["links-kept", "links-removed"])
@pytest.mark.parametrize("delete_untagged", [False, True], ids=["keep-untagged", "delete-untagged"])
@pytest.mark.parametrize("seed", range(5))
def test_keeps_exactly_what_distribution_keeps(
    tmp_path: Path, seed: int, delete_untagged: bool, links: bool
) -> None:
    tree = Tree(tmp_path / "original")
    random_tree(tree, seed, delete_untagged)
    theirs, ours = tree.copy_to(tmp_path / "theirs"), tree.copy_to(tmp_path / "ours")

    ran = distribution_gc(theirs.root, delete_untagged)
    our_gc(ours, delete_untagged, remove_layer_links=links)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert len(theirs.files()) < len(tree.files())  # the tree did hold garbage
    assert ours.files() == without_our_extra_cleanup(theirs.files(), dangling_links=links)


def _multi_arch(tree: Tree) -> tuple[Image, Image]:
    amd64, arm64 = tree.image("multi"), tree.image("multi")
    tree.index("multi", [amd64.manifest, arm64.manifest], tag="latest")
    return amd64, arm64


def test_distribution_loses_index_children_under_delete_untagged_and_we_do_not(
    tmp_path: Path,
) -> None:
    tree = Tree(tmp_path / "original")
    children = _multi_arch(tree)
    theirs, ours = tree.copy_to(tmp_path / "theirs"), tree.copy_to(tmp_path / "ours")

    assert distribution_gc(theirs.root, delete_untagged=True).returncode == 0
    our_gc(ours, delete_untagged=True)

    for child in children:
        assert not theirs.has_revision("multi", child.manifest)  # the image no longer pulls
        assert not any(theirs.has_blob(d) for d in child.layers)
        assert ours.has_revision("multi", child.manifest)
        assert all(ours.has_blob(d) for d in child.blobs)


def test_repository_never_tagged_aborts_distribution_but_not_us(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "original")
    tree.image("tagged", "1.0")
    pushed_by_digest = tree.image("digests-only")  # no tags/ folder at all
    theirs, ours = tree.copy_to(tmp_path / "theirs"), tree.copy_to(tmp_path / "ours")

    ran = distribution_gc(theirs.root, delete_untagged=True)
    our_gc(ours, delete_untagged=True)

    assert ran.returncode != 0 and "unknown repository" in ran.stdout + ran.stderr
    assert theirs.files() == tree.files()  # it stopped before deleting anything
    assert not any(ours.has_blob(d) for d in pushed_by_digest.blobs)
