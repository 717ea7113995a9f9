"""`backup`: a consistent, incremental, verified backup of a filesystem-driver registry.

Metadata (links, tags, /hth/v1) is captured under a short `readonly` storage lease; blobs,
which are immutable, are then copied under the `shared` lease (no freeze, GC kept out) into a
content-addressed store shared by every backup, so a blob already backed up is never copied
again (docs/backups.md).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from registry.cluster.leases import TakeLease
from registry.config import Settings
from registry.maintenance.backup.blobs import (
    BlobCopy,
    Copied,
    blobs_to_back_up,
    copy_blobs,
    suspect_copies,
)
from registry.maintenance.backup.copy import sync_filesystem
from registry.maintenance.backup.manifest import BackupManifest, Verification
from registry.maintenance.backup.problems import corrupt_backup
from registry.maintenance.backup.prune import prune_backups
from registry.maintenance.backup.snapshot import Snapshot, capture, complete, write_archive
from registry.maintenance.backup.store import METADATA, BackupStore, new_backup_id
from registry.maintenance.backup.verify import verify_backup
from registry.maintenance.progress import Progress
from registry.storage import StorageDriver
from registry.storage.filesystem.driver import local_root
from registry.tasks.models import utcnow

REFUSAL = (
    "backups need the filesystem storage driver; docker_registry.storage_driver is {driver!r}: "
    "nothing was done"
)
COPY_WORKERS = 4  # parallel copies: enough to keep a disk busy, few enough for 2 cores


class BackupError(Exception):
    """The backup or restore cannot run as configured; nothing was changed."""


class BackupUnsupported(BackupError):
    pass


def storage_root(settings: Settings) -> Path:
    """The local storage root; BackupUnsupported for any driver but filesystem (decided from
    the settings alone, before any backend is touched)."""
    root = local_root(settings.driver_settings())
    if root is None:
        raise BackupUnsupported(REFUSAL.format(driver=settings.docker_registry.storage_driver))
    return root


def store_of(settings: Settings) -> BackupStore:
    return BackupStore(Path(settings.docker_registry.backups.directory).resolve())


def backup_store(settings: Settings, root: Path) -> BackupStore:
    """The backup directory, refused when it lies inside the storage root or around it."""
    store = store_of(settings)
    directory = store.directory
    if directory.is_relative_to(root) or root.is_relative_to(directory):
        raise BackupError(
            f"docker_registry.backups.directory ({directory}) and the storage root ({root}) "
            "must not contain one another"
        )
    return store


@dataclass(frozen=True)
class BackupOptions:
    root: Path  # the filesystem driver's root directory
    store: BackupStore
    keep: int
    verify: bool = True
    prune: bool = True
    workers: int = COPY_WORKERS


@dataclass
class BackupResult:
    backup_id: str
    blobs_copied: int
    bytes_copied: int
    # Not copied again: already in the store, from an earlier backup (blobs never change).
    blobs_already_backed_up: int
    bytes_already_backed_up: int
    blobs: int
    bytes: int
    repositories: int
    metadata_files: int
    completed_files: int  # written while the metadata was read, added afterwards
    missing_blobs: list[str]
    dangling: list[str]
    # Stored copies a verification had found bad, copied again from the registry.
    recopied: list[str] = field(default_factory=list)
    verification: str = "unverified"
    pruned: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for key in ("missing_blobs", "dangling", "recopied"):
            result[key] = result[key][:100]
        return result


def create_backup(
    driver: StorageDriver, options: BackupOptions, take_lease: TakeLease, progress: Progress
) -> BackupResult:
    """The new backup; BackupCorrupt (the task fails, the backup is kept) when a blob of it
    is corrupt or missing in the store and the registry has no sound copy to repair it."""
    store = options.store
    found: Verification | None = None
    with store.shared():
        result, copied = _write_backup(driver, options, take_lease, progress)
        if copied.unrepaired and not options.verify:  # known bad without re-hashing it all
            found = copied.problems(store)
            store.save_verification(result.backup_id, found)
            result.verification = found.state
    if options.verify:
        started = time.monotonic()
        found = verify_backup(store, result.backup_id, progress, options.workers, options.root)
        result.verification = found.state
        result.seconds["verify"] = round(time.monotonic() - started, 3)
    if options.prune:  # corrupt backups never push sound ones out (backup/prune.py)
        result.pruned = prune_backups(store, options.keep, progress).as_dict()
    if found is not None and found.problem_count:
        raise corrupt_backup(store, result.backup_id, found, result.as_dict())
    return result


def _write_backup(
    driver: StorageDriver, options: BackupOptions, take_lease: TakeLease, progress: Progress
) -> tuple[BackupResult, Copied]:
    store, clock = options.store, _Clock()
    suspects = suspect_copies(store)
    live = blobs_to_back_up(driver, store, suspects, progress)
    clock.lap("scan")
    created = utcnow()
    backup_id = new_backup_id(created)
    folder = store.start(backup_id)
    try:
        snapshot = _read_metadata(driver, take_lease, progress, clock)
        metadata = write_archive(snapshot, folder / METADATA)
        clock.lap("archive")
        wanted = snapshot.blob_digests()
        job = BlobCopy(driver, options.root, store, suspects, options.workers)
        with take_lease("shared"):  # immutable blobs: only GC must stay out while they are read
            blobs, missing, copied = copy_blobs(job, wanted, live, progress)
        copied.report(progress, clock.lap("copy"))
        sync_filesystem(store.directory)  # copies are durable before the manifest is
        manifest = BackupManifest(
            id=backup_id,
            created_at=created,
            finished_at=utcnow(),
            source=str(options.root),
            repositories=len(snapshot.repositories()),
            metadata=metadata,
            blobs=blobs,
            blobs_copied=copied.blobs,
            bytes_copied=copied.bytes,
            missing_blobs=missing,
        )
        store.publish(manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for line in snapshot.dangling[:20]:
        progress.log(f"warning: {line}")
    result = BackupResult(
        backup_id=backup_id,
        blobs_copied=copied.blobs,
        bytes_copied=copied.bytes,
        blobs_already_backed_up=copied.already_stored,
        bytes_already_backed_up=copied.already_stored_bytes,
        blobs=len(blobs),
        bytes=manifest.size,
        repositories=manifest.repositories,
        metadata_files=metadata.files,
        completed_files=snapshot.completed,
        missing_blobs=missing,
        dangling=snapshot.dangling,
        recopied=copied.recopied,
        seconds=clock.seconds,
    )
    return result, copied


def _read_metadata(
    driver: StorageDriver, take_lease: TakeLease, progress: Progress, clock: _Clock
) -> Snapshot:
    with take_lease("readonly"):
        snapshot = capture(driver, progress)
    seconds = clock.lap("metadata")
    complete(driver, snapshot)
    progress.log(
        f"metadata: {len(snapshot.files)} files of {len(snapshot.repositories())} "
        f"repositories read under the readonly lease in {seconds:.2f}s"
        + (f"; {snapshot.completed} files written meanwhile added" if snapshot.completed else "")
    )
    return snapshot


class _Clock:
    """Seconds spent per phase, measured lap by lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, phase: str) -> float:
        now = time.monotonic()
        self.seconds[phase] = round(now - self._last, 3)
        self._last = now
        return self.seconds[phase]
