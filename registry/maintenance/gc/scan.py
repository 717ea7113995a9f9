"""Reading the layout for GC: a repository's revisions and tags, the blob store, uploads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from registry import layout
from registry.content.repositories import LAYERS, UPLOADS, RepositoryDir
from registry.maintenance.digestset import hex_key, key_digest
from registry.storage import FileInfo, PathNotFoundError, StorageDriver


@dataclass
class RepoScan:
    name: str
    parts: frozenset[str]
    deleted: bool
    revisions: set[bytes] = field(default_factory=set)  # readable revision links
    revision_dirs: int = 0  # every revision folder, readable or not
    tags: list[tuple[str, bytes | None]] = field(default_factory=list)  # tag, current digest


def children(driver: StorageDriver, path: str) -> list[str]:
    """Names (not paths) of the children of `path`; none when it does not exist."""
    try:
        return [p.rpartition("/")[2] for p in driver.list(path)]
    except PathNotFoundError:
        return []


def read_key(driver: StorageDriver, path: str) -> bytes | None:
    """The digest key a link file holds, or None when it is absent or malformed."""
    try:
        text = driver.get_content(path).decode("ascii", errors="replace").strip()
    except PathNotFoundError:
        return None
    algorithm, _, encoded = text.partition(":")
    return hex_key(algorithm, encoded)


def stat_or_none(driver: StorageDriver, path: str) -> FileInfo | None:
    try:
        return driver.stat(path)
    except PathNotFoundError:
        return None


def scan_repository(driver: StorageDriver, repo: RepositoryDir, deleted: bool) -> RepoScan:
    scan = RepoScan(repo.name, repo.parts, deleted)
    if not repo.has_manifests:
        return scan
    root = layout.revisions_root(repo.name)
    for algorithm in children(driver, root):
        for encoded in children(driver, f"{root}/{algorithm}"):
            scan.revision_dirs += 1
            key = read_key(driver, f"{root}/{algorithm}/{encoded}/link")
            # Like Distribution, a link whose content does not match its folder is ignored.
            if key is not None and key == hex_key(algorithm, encoded):
                scan.revisions.add(key)
    if not deleted:
        tags_root = layout.tags_root(repo.name)
        for tag in children(driver, tags_root):
            scan.tags.append((tag, read_key(driver, f"{tags_root}/{tag}/current/link")))
    return scan


def read_manifest(driver: StorageDriver, key: bytes) -> bytes | None:
    try:
        return driver.get_content(layout.blob_data(key_digest(key)))
    except PathNotFoundError:
        return None


def blob_prefixes(driver: StorageDriver) -> list[tuple[str, str]]:
    """(algorithm, folder) of every `blobs/<alg>/<xx>` folder."""
    return [
        (algorithm, f"{layout.BLOBS}/{algorithm}/{prefix}")
        for algorithm in children(driver, layout.BLOBS)
        for prefix in children(driver, f"{layout.BLOBS}/{algorithm}")
    ]


def layer_links(driver: StorageDriver, repo: RepositoryDir) -> list[tuple[str, str]]:
    """(algorithm, hex) of every blob linked into the repository."""
    if LAYERS not in repo.parts:
        return []
    root = layout.layers_root(repo.name)
    return [(a, h) for a in children(driver, root) for h in children(driver, f"{root}/{a}")]


@dataclass(frozen=True)
class UploadScan:
    upload_id: str
    size: int
    last_active: datetime | None  # None: nothing datable left (junk)


def _started_at(driver: StorageDriver, name: str, upload_id: str) -> datetime | None:
    try:
        text = driver.get_content(layout.upload_started_at(name, upload_id)).decode().strip()
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (PathNotFoundError, ValueError, UnicodeDecodeError):
        return None


def scan_uploads(driver: StorageDriver, repo: RepositoryDir) -> list[UploadScan]:
    """Every upload of the repository with its size and last activity (start or last write)."""
    if UPLOADS not in repo.parts:
        return []
    uploads = []
    for upload_id in children(driver, layout.uploads_root(repo.name)):
        data = stat_or_none(driver, layout.upload_data(repo.name, upload_id))
        times = [_started_at(driver, repo.name, upload_id), data.mod_time if data else None]
        known = [t for t in times if t is not None]
        uploads.append(UploadScan(upload_id, data.size if data else 0, max(known, default=None)))
    return uploads


def delete_quietly(driver: StorageDriver, path: str, files: tuple[str, ...] = ()) -> bool:
    """Delete `path`, a folder normally holding just `files` when they are given; False when
    it was already gone."""
    try:
        if files:
            driver.delete_dir(path, files)
        else:
            driver.delete(path)
    except PathNotFoundError:
        return False
    return True


@dataclass
class PrefixScan:
    """One `blobs/<alg>/<xx>` folder: what is garbage, what stays and why."""

    scanned: int
    garbage: dict[bytes, int] = field(default_factory=dict)  # blob -> size
    young: dict[bytes, tuple[int, datetime]] = field(default_factory=dict)  # size, written
    kept_young: int = 0  # blobs only revisions the grace period keeps use
    kept_young_bytes: int = 0
    referenced: int = 0
