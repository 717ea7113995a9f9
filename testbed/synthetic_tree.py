"""A large filesystem registry tree with a lot of garbage, written with plain file calls (tiny
blobs, correct digests): for the GC benchmark and for watching a running GC in /ui/; and
`plant_garbage`, aged unreferenced blobs alone, for the GC cluster tests and benchmark.

Every repository gets `manifests` manifests tagged in pairs (the second push of a tag
overwrites the first), so with `delete_untagged` half of the manifests and blobs are garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry import layout

V2 = "docker/registry/v2"
AGED = time.time() - 3 * 3600  # older than the default 1h grace period


def _write(path: str, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class SyntheticTree:
    def __init__(self, root: Path) -> None:
        self.v2 = f"{root}/{V2}"
        self.blobs = 0

    def blob(self, data: bytes) -> str:
        hex_ = hashlib.sha256(data).hexdigest()
        _write(f"{self.v2}/blobs/sha256/{hex_[:2]}/{hex_}/data", data)
        self.blobs += 1
        return hex_

    def link(self, repo: str, kind: str, hex_: str) -> None:
        _write(
            f"{self.v2}/repositories/{repo}/{kind}/sha256/{hex_}/link", f"sha256:{hex_}".encode()
        )

    def manifest(self, repo: str, serial: int, layers: int) -> str:
        config = self.blob(json.dumps({"repo": repo, "serial": serial}).encode())
        digests = [self.blob(f"layer {repo} {serial} {n}".encode()) for n in range(layers)]
        for hex_ in (config, *digests):
            self.link(repo, "_layers", hex_)
        document = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar", d) for d in digests],
        }
        hex_ = self.blob(json.dumps(document).encode())
        self.link(repo, "_layers", hex_)
        self.link(repo, "_manifests/revisions", hex_)
        return hex_

    def tag(self, repo: str, tag: str, hex_: str) -> None:
        tag_dir = f"{self.v2}/repositories/{repo}/_manifests/tags/{tag}"
        _write(f"{tag_dir}/current/link", f"sha256:{hex_}".encode())
        _write(f"{tag_dir}/index/sha256/{hex_}/link", f"sha256:{hex_}".encode())


def _descriptor(media_type: str, hex_: str) -> dict[str, object]:
    return {"mediaType": media_type, "digest": f"sha256:{hex_}", "size": 1}


def build_garbage(root: Path, repos: int, manifests: int, layers: int, threads: int = 4) -> int:
    """Writes the tree under `root` (a filesystem driver's rootdirectory); the blob count.
    Repositories are written in parallel: the time goes to file system calls, not Python."""

    def one_repository(r: int) -> int:
        tree, repo = SyntheticTree(root), f"team{r % 50}/app{r}"
        for serial in range(manifests):
            tree.tag(repo, f"v{serial // 2}", tree.manifest(repo, serial, layers))
        return tree.blobs

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one_repository, range(repos)))


def plant_garbage(storage: Path, count: int) -> set[str]:
    """Unreferenced blobs older than the grace period: what GC must free."""
    digests = set()
    for _ in range(count):
        data = os.urandom(64)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = storage / layout.blob_data(digest).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (AGED, AGED))
        digests.add(digest)
    return digests
