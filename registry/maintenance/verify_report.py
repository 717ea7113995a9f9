"""What the scrub says about each corrupt blob: where it is stored, what its bytes hash to,
which repositories use it, and the size the manifests referencing it give."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from registry import layout
from registry.content.repositories import RepositoryDir, iter_repository_dirs
from registry.maintenance.gc.scan import children
from registry.storage import PathNotFoundError, StorageDriver

# Manifests read to find expected sizes, at most: the sizes are a help, not worth a re-read
# of a huge registry. Only the repositories using a corrupt blob are read.
MAX_MANIFESTS = 5000


@dataclass
class Mismatch:
    digest: str  # what the data should hash to: its folder's name
    path: str
    stored_size: int  # the data file's size as listed
    actual_digest: str | None  # what it does hash to (None: could not be read to the end)
    actual_size: int  # bytes read
    problem: str
    expected_size: int | None = None  # from a descriptor referencing it, when one was found
    repositories: list[str] = field(default_factory=list)  # linking it (layer or manifest)
    manifest_in: list[str] = field(default_factory=list)  # where it is a manifest revision
    state: str = "corrupt"  # corrupt, quarantined, healed (genuine again) or vanished
    quarantined_to: str | None = None
    repair_error: str | None = None  # why the quarantine failed (the blob stays corrupt)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        used = ", ".join(self.repositories) or "no repository"
        return f"{self.state}: {self.digest} at {self.path}: {self.problem} (used by {used})"


def find_users(driver: StorageDriver, mismatches: list[Mismatch], workers: int) -> None:
    """Fill in the repositories linking each corrupt blob and, where the manifests of those
    repositories say it, the size it should have."""
    if not mismatches:
        return
    bad = {m.digest: m for m in mismatches}
    repos = list(iter_repository_dirs(driver))
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="hth-verify") as pool:
        for name, layers, revisions in pool.map(lambda r: _uses(driver, r, bad), repos):
            for digest in layers | revisions:
                bad[digest].repositories.append(name)
            for digest in revisions:
                bad[digest].manifest_in.append(name)
    for mismatch in mismatches:
        mismatch.repositories.sort()
        mismatch.manifest_in.sort()
    _expected_sizes(driver, bad)


def _uses(
    driver: StorageDriver, repo: RepositoryDir, bad: dict[str, Mismatch]
) -> tuple[str, set[str], set[str]]:
    """(name, corrupt blobs it links as layers, corrupt blobs that are its manifests)."""
    return (
        repo.name,
        _linked(driver, layout.layers_root(repo.name), bad),
        _linked(driver, layout.revisions_root(repo.name), bad),
    )


def _linked(driver: StorageDriver, root: str, bad: dict[str, Mismatch]) -> set[str]:
    algorithms = {digest.partition(":")[0] for digest in bad}
    found = {f"{a}:{h}" for a in algorithms for h in children(driver, f"{root}/{a}")}
    return found & bad.keys()


def _expected_sizes(driver: StorageDriver, bad: dict[str, Mismatch]) -> None:
    repos = sorted({name for m in bad.values() for name in m.repositories})
    read = 0
    for digest in _revisions(driver, repos):
        if read >= MAX_MANIFESTS or all(m.expected_size is not None for m in bad.values()):
            return
        read += 1
        for referenced, size in _descriptors(_verified_manifest(driver, digest)):
            mismatch = bad.get(referenced)
            if mismatch is not None and mismatch.expected_size is None:
                mismatch.expected_size = size


def _revisions(driver: StorageDriver, repos: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for name in repos:
        root = layout.revisions_root(name)
        for algorithm in children(driver, root):
            for encoded in children(driver, f"{root}/{algorithm}"):
                digest = f"{algorithm}:{encoded}"
                if digest not in seen:
                    seen.add(digest)
                    yield digest


def _verified_manifest(driver: StorageDriver, digest: str) -> Any:
    """The manifest's JSON document; None when it is missing, corrupt or not JSON."""
    algorithm, _, encoded = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        return None
    try:
        data = driver.get_content(layout.blob_data(digest))
    except PathNotFoundError:
        return None
    if hashlib.new(algorithm, data).hexdigest() != encoded:
        return None  # a corrupt manifest says nothing trustworthy about other blobs
    try:
        return json.loads(data)
    except ValueError:
        return None


def _descriptors(document: Any) -> Iterator[tuple[str, int]]:
    """(digest, size) of every descriptor of an image manifest, index or artifact."""
    if not isinstance(document, dict):
        return
    found: list[Any] = [document.get("config"), document.get("subject")]
    for key in ("layers", "blobs", "manifests"):
        values = document.get(key)
        if isinstance(values, list):
            found.extend(values)
    for descriptor in found:
        if not isinstance(descriptor, dict):
            continue
        digest, size = descriptor.get("digest"), descriptor.get("size")
        if isinstance(digest, str) and isinstance(size, int) and not isinstance(size, bool):
            yield digest, size
