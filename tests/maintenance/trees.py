"""Build registry trees directly in storage, exactly as pushes leave them, for GC tests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from registry import layout
from registry.content.links import write_link
from registry.content.referrers import add_referrer, referrer_descriptor
from registry.content.repositories import mark_deleted
from registry.maintenance.gc.collect import GCOptions, collect_garbage
from registry.maintenance.gc.result import GCResult
from registry.storage import PathNotFoundError, StorageDriver, create_driver

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
NO_GRACE = timedelta(0)


@dataclass
class Image:
    manifest: str
    config: str
    layers: list[str]

    @property
    def blobs(self) -> list[str]:
        return [self.manifest, self.config, *self.layers]


def filesystem(root: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(root)})


@dataclass
class Tree:
    """A registry tree under `root` (a filesystem rootdirectory), or on `on` when given (a
    cloud driver: then only the methods that go through the driver work, not `age_path`,
    `tags_folder`, `files` or `copy_to`, which touch the files under `root`)."""

    root: Path
    on: InitVar[StorageDriver | None] = None
    driver: StorageDriver = field(init=False)
    _counter: int = 0

    def __post_init__(self, on: StorageDriver | None) -> None:
        self.driver = on if on is not None else filesystem(self.root)

    def local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.driver.put_content(layout.blob_data(digest), data)
        return digest

    def link(self, repo: str, digest: str) -> None:
        write_link(self.driver, layout.layer_link(repo, digest), digest)

    def _unique(self, label: str) -> bytes:
        self._counter += 1
        return f"{label}-{self._counter}".encode()

    def put_manifest(self, repo: str, document: dict[str, Any], tag: str | None = None) -> str:
        """Store a manifest as Distribution's PUT does: blob, `_layers` and revision links."""
        digest = self.blob(json.dumps(document, sort_keys=True).encode())
        self.link(repo, digest)
        write_link(self.driver, layout.revision_link(repo, digest), digest)
        if tag is not None:
            self.tag(repo, tag, digest)
        return digest

    def image(
        self,
        repo: str,
        tag: str | None = None,
        layers: int = 2,
        shared: tuple[str, ...] = (),
        media_type: str = OCI_MANIFEST,
        subject: str | None = None,
    ) -> Image:
        """An image whose config and `layers` new layers are unique, plus `shared` blobs."""
        config = self.blob(self._unique(f"config-{repo}"))
        digests = [*shared, *(self.blob(self._unique(f"layer-{repo}")) for _ in range(layers))]
        for digest in (config, *digests):
            self.link(repo, digest)
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": 1,
            },
            "layers": [{"mediaType": LAYER, "digest": d, "size": 1} for d in digests],
        }
        if subject is not None:
            document["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
            document["artifactType"] = "application/vnd.example.signature"
        manifest = self.put_manifest(repo, document, tag)
        if subject is not None:
            size = self.driver.stat(layout.blob_data(manifest)).size
            descriptor = referrer_descriptor(media_type, manifest, size, None, None)
            add_referrer(self.driver, repo, subject, descriptor)
        return Image(manifest, config, digests)

    def index(
        self, repo: str, children: list[str], tag: str | None = None, media_type: str = OCI_INDEX
    ) -> str:
        document = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": 1} for d in children],
        }
        return self.put_manifest(repo, document, tag)

    def tag(self, repo: str, tag: str, digest: str) -> None:
        write_link(self.driver, layout.tag_current_link(repo, tag), digest)
        write_link(self.driver, layout.tag_index_link(repo, tag, digest), digest)

    def tagged(self, repo: str) -> set[str]:
        """Digests some tag of `repo` currently points at."""
        tags = (p.rpartition("/")[2] for p in self.driver.list(layout.tags_root(repo)))
        return {self.driver.get_content(layout.tag_current_link(repo, t)).decode() for t in tags}

    def untag(self, repo: str, tag: str) -> None:
        self.driver.delete(layout.tag_dir(repo, tag))

    def tags_folder(self, repo: str) -> None:
        """An empty `tags/` folder, as a repository whose tags were all deleted has."""
        self.local(layout.tags_root(repo)).mkdir(parents=True, exist_ok=True)

    def delete_manifest(self, repo: str, digest: str) -> None:
        """What DELETE /v2/<repo>/manifests/<digest> leaves: the revision link is gone."""
        self.driver.delete(layout.revision_link(repo, digest).rpartition("/")[0])

    def upload(self, repo: str, started: datetime, size: int = 16) -> str:
        upload_id = f"{self._counter:08d}-0000-4000-8000-000000000000"
        self._counter += 1
        started_text = started.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        self.driver.put_content(layout.upload_started_at(repo, upload_id), started_text)
        self.driver.put_content(layout.upload_data(repo, upload_id), b"x" * size)
        self.age_path(layout.upload_dir(repo, upload_id), datetime.now(UTC) - started)
        return upload_id

    def age_path(self, path: str, by: timedelta) -> None:
        """Move the modification time of `path` (and what is below) back by `by`."""
        top = self.local(path)
        when = (datetime.now(UTC) - by).timestamp()
        for current in [top, *top.rglob("*")] if top.is_dir() else [top]:
            os.utime(current, (when, when))

    def age_all(self, by: timedelta = timedelta(days=1)) -> None:
        self.age_path("/", by)

    def exists(self, path: str) -> bool:
        try:
            self.driver.stat(path)
        except PathNotFoundError:
            return False
        return True

    def has_blob(self, digest: str) -> bool:
        return self.exists(layout.blob_data(digest))

    def has_revision(self, repo: str, digest: str) -> bool:
        return self.exists(layout.revision_link(repo, digest))

    def has_link(self, repo: str, digest: str) -> bool:
        return self.exists(layout.layer_link(repo, digest))

    def files(self) -> set[str]:
        """Every file below the root, as paths relative to it."""
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()}

    def copy_to(self, root: Path) -> Tree:
        shutil.copytree(self.root, root, symlinks=True)
        return Tree(root)


def collect(tree: Tree, should_stop: Callable[[], bool] | None = None, **options: Any) -> GCResult:
    """Our GC on `tree`, with no grace period unless one is given."""
    options.setdefault("grace_period", NO_GRACE)
    return collect_garbage(tree.driver, GCOptions(**options), should_stop=should_stop)


def garbage_tree(tree: Tree) -> None:
    """Overwritten tags in three repositories, a soft-deleted one, a stale upload."""
    base = tree.blob(b"base")
    for n in range(3):
        tree.image(f"repo{n}", "1.0", shared=(base,))
        tree.image(f"repo{n}", "1.0", shared=(base,))
    tree.image("gone", "1.0")
    mark_deleted(tree.driver, "gone")
    tree.upload("repo0", datetime.now(UTC) - timedelta(days=2))
    tree.age_all(timedelta(days=2))
