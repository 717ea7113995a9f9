"""`restore`: rebuild the storage tree from a backup (by id, or from an exported archive).

Under the `stop` storage lease (instances refuse every request: nothing written meanwhile
would survive the restore), the tree is built in a fresh folder next to the live root, every
blob re-hashed on the way, then swapped with the live root in one atomic exchange. A restore
that fails before the swap leaves the live data exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from registry import layout
from registry.cluster.leases import TakeLease
from registry.maintenance.backup.copy import (
    BUFFER,
    DigestMismatch,
    copy_verified,
    run_parallel,
    sync_filesystem,
)
from registry.maintenance.backup.export import ArchiveSource
from registry.maintenance.backup.manifest import BackupManifest
from registry.maintenance.backup.snapshot import MetaFile, read_archive
from registry.maintenance.backup.space import check_free_space
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.backup.swap import exchange_dirs
from registry.maintenance.backup.take import BackupError
from registry.maintenance.progress import Progress

WORKERS = 4


class RestoreError(BackupError):
    """The restore stopped before the swap: the live storage was not changed."""


@dataclass
class RestoreResult:
    backup_id: str
    repositories: int
    metadata_files: int
    blobs: int
    bytes: int
    previous: str | None  # where the replaced tree was kept, when asked to
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def restore_from_store(
    store: BackupStore,
    backup_id: str,
    root: Path,
    take_lease: TakeLease,
    progress: Progress,
    keep_previous: bool = False,
) -> RestoreResult:
    with store.shared():
        manifest = store.manifest(backup_id)
        builder = _Builder(root, manifest, progress)
        with builder.building(take_lease):
            try:
                with open(store.metadata_path(backup_id), "rb") as handle:
                    builder.write_metadata(read_archive(handle))
            except _DAMAGED as exc:
                raise RestoreError(f"backup {backup_id}: metadata archive damaged: {exc}") from exc
            builder.copy_blobs(store)
            builder.swap()
    return builder.finish(keep_previous)


def restore_from_archive(
    path: Path, root: Path, take_lease: TakeLease, progress: Progress, keep_previous: bool = False
) -> RestoreResult:
    if not path.is_file():
        raise RestoreError(f"{path}: no such file")
    try:
        with ArchiveSource(path) as source:
            builder = _Builder(root, source.manifest, progress)
            with builder.building(take_lease):
                builder.write_metadata(source.metadata())
                builder.stream_blobs(source)
                builder.swap()
    except _DAMAGED as exc:
        raise RestoreError(f"{path}: not a readable backup archive: {exc}") from exc
    return builder.finish(keep_previous)


# What a truncated, corrupted or foreign archive raises while it is read.
_DAMAGED = (ValueError, KeyError, EOFError, tarfile.TarError, zstandard.ZstdError)


class _Builder:
    """Writes the fresh tree beside the live root and swaps it in."""

    def __init__(self, root: Path, manifest: BackupManifest, progress: Progress) -> None:
        self.root, self.manifest, self.progress = root, manifest, progress
        self.fresh = root.parent / f".{root.name}.restore-{manifest.id}"
        self.started = time.monotonic()
        self.metadata_files = 0
        self.had_root = False

    @contextmanager
    def building(self, take_lease: TakeLease) -> Iterator[None]:
        """Check; then, under the `stop` lease, prepare the fresh folder, removed again unless
        the build and the swap succeed."""
        if os.path.ismount(self.root):
            raise RestoreError(
                f"the storage root {self.root} is a mount point; a restore swaps it with a "
                "folder beside it, so keep rootdirectory one level below the mount"
            )
        files = len(self.manifest.blobs) + self.manifest.metadata.files
        check_free_space(self.root.parent, self.manifest.size, files, "restore", "files")
        with take_lease("stop"):
            _remove(self.fresh)  # left by an interrupted attempt
            self.fresh.mkdir(parents=True)
            if self.root.is_dir():
                os.chmod(self.fresh, self.root.stat().st_mode)
            try:
                yield
            except BaseException:
                _remove(self.fresh)
                raise

    def write_metadata(self, files: Iterable[MetaFile]) -> None:
        total = self.manifest.metadata.files
        self.progress("metadata", 0, total)
        for file in files:
            target = self.fresh / file.path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.data)
            os.utime(target, (file.mtime, file.mtime))
            self.metadata_files += 1
            self.progress("metadata", self.metadata_files, max(total, self.metadata_files))

    def _blob_target(self, digest: str) -> Path:
        return self.fresh / layout.blob_data(digest).lstrip("/")

    def copy_blobs(self, store: BackupStore, workers: int = WORKERS) -> None:
        def copy(digest: str) -> int:
            return copy_verified(store.blob_path(digest), self._blob_target(digest), digest)

        total, done = self.manifest.blob_bytes, 0
        self.progress("blobs", 0, total)
        digests = [blob.digest for blob in self.manifest.blobs]
        try:
            with closing(run_parallel(copy, digests, workers)) as results:
                for _, size in results:
                    done += size
                    self.progress("blobs", done, max(total, done))
        except (DigestMismatch, FileNotFoundError) as exc:
            raise RestoreError(f"backup {self.manifest.id} is damaged: {exc}") from exc

    def stream_blobs(self, source: ArchiveSource) -> None:
        expected = {blob.digest for blob in self.manifest.blobs}
        total, done, seen = self.manifest.blob_bytes, 0, set()
        self.progress("blobs", 0, total)
        for digest, stream in source.blobs():
            if digest not in expected:
                raise RestoreError(f"{source.path}: blob {digest} is not in its manifest")
            done += _write_verified(stream, self._blob_target(digest), digest)
            seen.add(digest)
            self.progress("blobs", done, max(total, done))
        if seen != expected:
            missing = sorted(expected - seen)
            raise RestoreError(f"{source.path}: {len(missing)} blobs missing, e.g. {missing[0]}")

    def swap(self) -> None:
        sync_filesystem(self.fresh)  # the new tree is on disk before it becomes the live one
        self.had_root = exchange_dirs(self.fresh, self.root)

    def finish(self, keep_previous: bool) -> RestoreResult:
        """After the lease ended: delete (or keep) the replaced tree, now at `fresh`."""
        previous = None
        if self.had_root and keep_previous:
            previous = self.root.parent / f".{self.root.name}.before-{self.manifest.id}"
            _remove(previous)
            os.rename(self.fresh, previous)
        elif self.had_root:
            _remove(self.fresh)
        self.progress.log(
            f"restored backup {self.manifest.id}: {self.manifest.repositories} repositories, "
            f"{len(self.manifest.blobs)} blobs into {self.root}"
            + (f"; the replaced tree is kept at {previous}" if previous else "")
        )
        return RestoreResult(
            backup_id=self.manifest.id,
            repositories=self.manifest.repositories,
            metadata_files=self.metadata_files,
            blobs=len(self.manifest.blobs),
            bytes=self.manifest.size,
            previous=str(previous) if previous else None,
            seconds=round(time.monotonic() - self.started, 3),
        )


def _write_verified(stream: IO[bytes], target: Path, digest: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    algorithm = digest.partition(":")[0]
    hasher, size = hashlib.new(algorithm), 0
    with open(target, "wb") as out:
        while chunk := stream.read(BUFFER):
            hasher.update(chunk)
            out.write(chunk)
            size += len(chunk)
    actual = f"{algorithm}:{hasher.hexdigest()}"
    if actual != digest:
        raise RestoreError(f"archive blob {digest} is damaged: its content hashes to {actual}")
    return size


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
