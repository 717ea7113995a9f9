"""The store, the clients and the GC of the online GC protocol test (test_gc_online_protocol).

Clients use the content layer as the /v2 handlers do, each HTTP request one step: HEAD a
blob, mount it, upload it whole (POST ?digest=), PUT a manifest, pull. The GC actor takes the
storage lease in `online` mode, waits until both instance heartbeats observed it, collects
with a SweepFence, and may be "killed" at a given step: from then on each of its steps raises
before doing anything, so its deleting marks and its lease stay behind to expire.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from registry import layout
from registry.cluster import leases
from registry.cluster.gc_writer import OnlineGuard
from registry.content import blobs, manifests, uploads
from registry.content.gc_guard import repository_key, upload_key
from registry.content.repositories import mark_deleted
from registry.content.uploads import Upload
from registry.db.database import Database
from registry.errors import BlobUnknown, ManifestBlobUnknown
from registry.storage import StorageDriver
from tests.support.interleave import Baton

OCI = "application/vnd.oci.image.manifest.v1+json"
AGED = time.time() - 3 * 3600


@dataclass(frozen=True)
class Blob:
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


def new_blob() -> Blob:
    return Blob(os.urandom(48))


@dataclass(frozen=True)
class Image:
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> list[Blob]:
        return [self.config, *self.layers]

    @property
    def body(self) -> bytes:
        def descriptor(blob: Blob, media_type: str) -> dict[str, object]:
            return {"mediaType": media_type, "digest": blob.digest, "size": len(blob.data)}

        layer_type = "application/vnd.oci.image.layer.v1.tar"
        document = {
            "schemaVersion": 2,
            "mediaType": OCI,
            "config": descriptor(self.config, "application/vnd.oci.image.config.v1+json"),
            "layers": [descriptor(layer, layer_type) for layer in self.layers],
        }
        return json.dumps(document, sort_keys=True).encode()

    @property
    def digest(self) -> str:
        return manifests.digest_of(self.body)


def image(*layers: Blob) -> Image:
    return Image(new_blob(), layers)


@dataclass
class World:
    driver: StorageDriver
    root: str | None  # the filesystem store's directory; None: an object store
    baton: Baton
    pushed: list[tuple[str, str, Image]] = field(default_factory=list)  # repo, reference, image
    kept: list[tuple[str, str, Image]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    orphans: list[Blob] = field(default_factory=list)
    all_blobs: list[Blob] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # what each client did, for failures

    def build(self) -> None:
        """A tree with garbage of every kind, all of it older than any run."""
        shared = new_blob()
        self.kept_image = image(shared, new_blob())
        self.gone = image(shared, new_blob(), new_blob())  # its repository is deleted
        self.dangling = image(new_blob(), new_blob())  # manifest deleted, links left
        self.untagged = image(new_blob())  # pushed by digest only
        self.orphans = [new_blob() for _ in range(3)]
        self._push_now("keep/x", "v1", self.kept_image)
        self.kept.append(("keep/x", "v1", self.kept_image))
        self._push_now("old/gone", "v1", self.gone)
        mark_deleted(self.driver, "old/gone")
        self._push_now("dangling/r", self.dangling.digest, self.dangling)
        manifests.delete_manifest(self.driver, "dangling/r", self.dangling.digest)
        self._push_now("keep/y", self.untagged.digest, self.untagged)
        for orphan in self.orphans:
            self.driver.put_content(layout.blob_data(orphan.digest), orphan.data)
        self.all_blobs = [
            *self.orphans,
            *(
                b
                for i in (self.kept_image, self.gone, self.dangling, self.untagged)
                for b in i.blobs
            ),
        ]
        self.flows: list[Callable[[str, OnlineGuard], None]] = [
            self.repush_deleted,
            self.reuse_dangling,
            self.mount_dangling,
            self.retag_untagged,
            self.new_image,
            self.pull_kept,
        ]
        if self.root is not None:
            for path in _files(self.root):
                os.utime(path, (AGED, AGED))
        else:
            time.sleep(1.1)  # object stores date writes to the second: all of it is older

    def _push_now(self, repo: str, reference: str, pushed: Image) -> None:
        for blob in pushed.blobs:
            upload = Upload.create(self.driver, repo)
            upload.write(blob.data)
            upload.complete(blob.digest)
        manifests.put_manifest(self.driver, repo, reference, pushed.body, OCI)

    # --- clients: each HTTP request is one step ------------------------------------------

    def _push(
        self,
        actor: str,
        guard: OnlineGuard,
        repo: str,
        ref: str,
        pushed: Image,
        mount_from: str | None = None,
    ) -> None:
        baton = self.baton
        for blob in pushed.blobs:
            baton.step(actor)
            with guard.request_scope():  # POST ?mount=
                if mount_from and uploads.mount_blob(
                    self.driver, repo, blob.digest, mount_from, guard
                ):
                    self.events.append(f"{actor} run={guard.run}: mounted {blob.digest[:15]}")
                    continue
            baton.step(actor)
            try:
                with guard.request_scope():  # HEAD
                    blobs.stat_blob(self.driver, repo, blob.digest, guard)
                self.events.append(f"{actor} run={guard.run}: HEAD 200 {blob.digest[:15]}")
                continue  # "exists": the client skips the upload
            except BlobUnknown:
                self.events.append(f"{actor} run={guard.run}: HEAD 404 {blob.digest[:15]}")
            baton.step(actor)
            with guard.request_scope():  # POST ?digest=, as the handler does it
                guard.protect([repository_key(repo)])
                upload = Upload.create(self.driver, repo)
                guard.protect([upload_key(upload.upload_id)])
                upload.write(blob.data)
                upload.complete(blob.digest, guard)
            self.events.append(f"{actor} run={guard.run}: uploaded {blob.digest[:15]}")
        baton.step(actor)
        try:
            with guard.request_scope():
                manifests.put_manifest(
                    self.driver, repo, ref, pushed.body, OCI, None, gc_guard=guard
                )
        except ManifestBlobUnknown as exc:
            self.refused.append(f"{actor}: PUT {repo}:{ref}: {exc}")
            self.events.append(f"{actor} run={guard.run}: PUT refused")
            return
        self.events.append(f"{actor} run={guard.run}: PUT {repo}:{ref}")
        self.pushed.append((repo, ref, pushed))

    def repush_deleted(self, actor: str, guard: OnlineGuard) -> None:
        self._push(actor, guard, f"new/{actor}", "v1", self.gone)

    def reuse_dangling(self, actor: str, guard: OnlineGuard) -> None:
        self._push(actor, guard, "dangling/r", f"t-{actor}", self.dangling)

    def mount_dangling(self, actor: str, guard: OnlineGuard) -> None:
        self._push(actor, guard, f"mounted/{actor}", "v1", self.dangling, "dangling/r")

    def retag_untagged(self, actor: str, guard: OnlineGuard) -> None:
        self._push(actor, guard, "keep/y", f"again-{actor}", self.untagged)

    def new_image(self, actor: str, guard: OnlineGuard) -> None:
        self._push(actor, guard, f"fresh/{actor}", "v1", image(self.gone.layers[1], new_blob()))

    def pull_kept(self, actor: str, guard: OnlineGuard) -> None:
        for repo, ref, kept in self.kept:
            self.check_pull(repo, ref, kept, guard)

    # --- checks ----------------------------------------------------------------------------

    def check_pull(
        self, repo: str, ref: str, pulled: Image, guard: OnlineGuard | None = None
    ) -> None:
        digest = manifests.resolve(self.driver, repo, ref)
        assert manifests.load(self.driver, digest).body == pulled.body
        for blob in pulled.blobs:
            if guard is not None:
                blobs.stat_blob(self.driver, repo, blob.digest, guard)
            else:
                blobs.stat_blob(self.driver, repo, blob.digest)
            data = self.driver.get_content(layout.blob_data(blob.digest))
            assert data == blob.data, f"{repo}:{ref}: {blob.digest} damaged"

    def check_pushed_images_pull(self) -> None:
        for repo, ref, pushed in self.pushed:
            self.check_pull(repo, ref, pushed)

    def check_kept_images_pull(self) -> None:
        for repo, ref, kept in self.kept:
            self.check_pull(repo, ref, kept)

    def exists(self, digest: str) -> bool:
        try:
            self.driver.stat(layout.blob_data(digest))
        except Exception:  # noqa: BLE001 - missing
            return False
        return True

    def heartbeat(self, db: Database, guard: OnlineGuard, name: str) -> None:
        """An instance process's heartbeat: observe the lease, then acknowledge its token."""
        self.acks[name] = 0
        while not self.baton.stopping:
            lease = leases.current(db)
            guard.observe(lease.token if lease and lease.mode == "online" else None)
            self.acks[name] = lease.token if lease else 0
            self.baton.step(name)
            time.sleep(0.002)


def _files(root: str) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
