"""Repository metadata read from live storage through the driver: every file under
`repositories/` except `_uploads`, plus our `/hth/v1` area, kept as one tar.zst archive.

The capture runs under a short write freeze. It is also made closed under references
afterwards, so that it stays consistent should a push slip through (an instance that had not
acknowledged the freeze): a push writes layer links, then the manifest revision, then the
tag, so whatever a captured manifest or tag needs was written before it and can still be
read from storage; `complete()` adds it.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import zstandard

from registry import layout
from registry.maintenance.backup.manifest import MetadataInfo
from registry.maintenance.digestset import digest_key, key_digest
from registry.maintenance.gc.refs import ManifestUnreadable, parse_refs
from registry.maintenance.progress import Progress
from registry.storage import FileInfo, PathNotFoundError, StorageDriver
from registry.storage.base import check_path

ZSTD_LEVEL = 3
_REPOS = re.escape(layout.REPOSITORIES)
_REVISION = re.compile(rf"^{_REPOS}/(.+?)/_manifests/revisions/([^/]+)/([^/]+)/link$")
_TAG = re.compile(rf"^{_REPOS}/(.+?)/_manifests/tags/[^/]+/current/link$")
_REPOSITORY = re.compile(rf"^{_REPOS}/(.+?)/_(?:manifests|layers)/")
_ARCHIVED = re.compile(r"^/(docker/registry/v2/repositories|hth/v1)/")


@dataclass(frozen=True)
class MetaFile:
    path: str  # storage path, e.g. /docker/registry/v2/repositories/team/app/_layers/...
    data: bytes
    mtime: float


@dataclass
class Snapshot:
    files: dict[str, MetaFile] = field(default_factory=dict)
    # Dependencies found missing in live storage too (the live tree itself is torn there).
    dangling: list[str] = field(default_factory=list)
    completed: int = 0  # files complete() added: written while the capture ran

    def add(self, file: MetaFile) -> None:
        self.files[file.path] = file

    def repositories(self) -> set[str]:
        return {m.group(1) for path in self.files if (m := _REPOSITORY.match(path))}

    def blob_digests(self) -> list[str]:
        """Every blob a link file names (layers, manifest revisions, tags), sorted."""
        keys = set()
        for path, file in self.files.items():
            if path.startswith(layout.REPOSITORIES) and path.endswith("/link"):
                key = digest_key(file.data.decode("ascii", "replace").strip())
                if key is not None:
                    keys.add(key)
        return sorted(key_digest(key) for key in keys)


def capture(driver: StorageDriver, progress: Progress) -> Snapshot:
    """Read the metadata files, pointers (tags) before what they point at (revisions,
    then layer links): the reverse of the order in which a push writes them."""
    listed = sorted(_metadata_files(driver), key=_read_order)
    snapshot = Snapshot()
    progress("metadata", 0, len(listed))
    for done, info in enumerate(listed, 1):
        try:
            data = driver.get_content(info.path)
        except PathNotFoundError:
            continue  # deleted since it was listed
        snapshot.add(MetaFile(info.path, data, info.mod_time.timestamp()))
        progress("metadata", done, len(listed))
    return snapshot


def _metadata_files(driver: StorageDriver) -> Iterator[FileInfo]:
    for top in (layout.REPOSITORIES, layout.HTH_ROOT):
        try:
            for info in driver.walk(top):
                # Quarantined blob data is no metadata: large, corrupt, and kept in place.
                quarantined = info.path.startswith(f"{layout.QUARANTINE}/")
                if not info.is_dir and "/_uploads/" not in info.path and not quarantined:
                    yield info
        except PathNotFoundError:
            continue  # an empty registry


def _read_order(info: FileInfo) -> tuple[int, str]:
    path = info.path
    if "/_manifests/tags/" in path:
        rank = 0
    elif path.startswith(layout.HTH_ROOT):
        rank = 1
    elif "/_manifests/revisions/" in path:
        rank = 2
    else:
        rank = 3
    return rank, path


def complete(driver: StorageDriver, snapshot: Snapshot) -> None:
    """Add what captured tags and manifests need but the capture missed (`completed`)."""
    before = len(snapshot.files)
    queue = [(m.group(1), f"{m.group(2)}:{m.group(3)}") for m in _matches(snapshot, _REVISION)]
    for match in _matches(snapshot, _TAG):
        target = snapshot.files[match.string].data.decode("ascii", "replace").strip()
        queue.append((match.group(1), target))
    seen: set[tuple[str, str]] = set()
    while queue:
        name, digest = queue.pop()
        if (name, digest) in seen or digest_key(digest) is None:
            continue
        seen.add((name, digest))
        if not _ensure(driver, snapshot, layout.revision_link(name, digest)):
            continue
        try:
            refs = parse_refs(driver.get_content(layout.blob_data(digest)))
        except (PathNotFoundError, ManifestUnreadable):
            snapshot.dangling.append(f"{name}@{digest}: manifest blob missing or unreadable")
            continue
        for key in refs.blobs:
            _ensure(driver, snapshot, layout.layer_link(name, key_digest(key)))
        queue += [(name, key_digest(key)) for key in refs.children]
    snapshot.completed += len(snapshot.files) - before


def _matches(snapshot: Snapshot, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    return [m for path in list(snapshot.files) if (m := pattern.match(path))]


def _ensure(driver: StorageDriver, snapshot: Snapshot, path: str) -> bool:
    if path in snapshot.files:
        return True
    try:
        data = driver.get_content(path)
        mtime = driver.stat(path).mod_time.timestamp()
    except PathNotFoundError:
        snapshot.dangling.append(f"{path}: needed by a captured manifest or tag, not in storage")
        return False
    snapshot.add(MetaFile(path, data, mtime))
    return True


def write_archive(snapshot: Snapshot, target: Path) -> MetadataInfo:
    """The files as a tar (PAX, exact mtimes) compressed with zstd, in path order."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with open(target, "wb") as raw, compressor.stream_writer(raw, closefd=False) as stream:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(snapshot.files):
                file = snapshot.files[path]
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mtime, info.mode = len(file.data), file.mtime, 0o644
                tar.addfile(info, io.BytesIO(file.data))
    return MetadataInfo(
        archive=target.name,
        files=len(snapshot.files),
        bytes=sum(len(f.data) for f in snapshot.files.values()),
        archive_bytes=target.stat().st_size,
        sha256=_sha256(target),
    )


def read_archive(source: IO[bytes]) -> Iterator[MetaFile]:
    """The files of a metadata archive; a member outside the metadata area is an error."""
    with zstandard.ZstdDecompressor().stream_reader(source, closefd=False) as stream:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.isdir():
                    continue
                path = "/" + member.name
                if not member.isfile() or not _ARCHIVED.match(path):
                    raise ValueError(f"metadata archive: unexpected member {member.name!r}")
                check_path(path)  # no "..", no odd characters
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file
                yield MetaFile(path, handle.read(), float(member.mtime))


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()
