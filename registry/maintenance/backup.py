"""`backup`: a consistent, incremental, verified backup of a filesystem-driver registry.

Metadata (links, tags, /hth/v1) is captured under a short `readonly` storage lease; blobs,
which are immutable, are then copied under the `shared` lease (no freeze, GC kept out) into a
content-addressed store shared by every backup, so a blob already backed up is never copied
again (docs/backups.md).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from registry import layout
from registry.config import Settings
from registry.maintenance.backup_copy import copy_file, run_parallel, sync_filesystem
from registry.maintenance.backup_manifest import BackupManifest, BlobEntry
from registry.maintenance.backup_prune import prune_backups
from registry.maintenance.backup_snapshot import Snapshot, capture, complete, write_archive
from registry.maintenance.backup_space import check_free_space
from registry.maintenance.backup_store import METADATA, BackupStore, new_backup_id
from registry.maintenance.backup_verify import verify_backup
from registry.maintenance.progress import Progress
from registry.storage import PathNotFoundError, StorageDriver
from registry.storage.filesystem import local_root
from registry.tasks.models import utcnow

REFUSAL = (
    "backups need the filesystem storage driver; docker_registry.storage_driver is {driver!r}: "
    "nothing was done"
)
COPY_WORKERS = 4  # parallel copies: enough to keep a disk busy, few enough for 2 cores

LeaseMode = Literal["shared", "readonly", "stop"]
Lease = Callable[[LeaseMode], AbstractContextManager[None]]
"""Take the storage lease in a mode for the duration of a `with` block (DESIGN §5):
"shared" excludes GC only, "readonly" freezes writes, "stop" stops every instance. Blocks are
never nested: one holding per phase."""


def no_lease(mode: LeaseMode) -> AbstractContextManager[None]:
    """For callers outside the task platform that coordinate by other means (tests, bench)."""
    return nullcontext()


class BackupError(Exception):
    """The backup or restore cannot run as configured; nothing was changed."""


class BackupUnsupported(BackupError):
    pass


class Params(BaseModel):
    """Task parameters of `kind: backup`."""

    model_config = ConfigDict(extra="forbid")

    verify: bool = True  # re-hash every blob of the new backup once it is written
    prune: bool = True  # then apply docker_registry.backups.keep


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
    blobs: int
    bytes: int
    repositories: int
    metadata_files: int
    completed_files: int  # written while the metadata was read, added afterwards
    missing_blobs: list[str]
    dangling: list[str]
    verification: str = "unverified"
    pruned: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["missing_blobs"] = self.missing_blobs[:100]
        result["dangling"] = self.dangling[:100]
        return result


def create_backup(
    driver: StorageDriver, options: BackupOptions, lease: Lease, progress: Progress
) -> BackupResult:
    store = options.store
    with store.shared():
        result = _write_backup(driver, options, lease, progress)
    if options.verify:
        started = time.monotonic()
        found = verify_backup(store, result.backup_id, progress, options.workers, options.root)
        result.verification = found.state
        result.seconds["verify"] = round(time.monotonic() - started, 3)
    if options.prune:
        result.pruned = prune_backups(store, options.keep, progress).as_dict()
    return result


def _write_backup(
    driver: StorageDriver, options: BackupOptions, lease: Lease, progress: Progress
) -> BackupResult:
    store, clock = options.store, _Clock()
    live = _blobs_to_back_up(driver, store, progress)
    clock.lap("scan")
    created = utcnow()
    backup_id = new_backup_id(created)
    folder = store.start(backup_id)
    try:
        snapshot = _read_metadata(driver, lease, progress, clock)
        metadata = write_archive(snapshot, folder / METADATA)
        clock.lap("archive")
        wanted = snapshot.blob_digests()
        with lease("shared"):  # immutable blobs: only GC must stay out while they are read
            blobs, missing, copied = _copy_blobs(driver, options, wanted, live, progress)
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
    return BackupResult(
        backup_id=backup_id,
        blobs_copied=copied.blobs,
        bytes_copied=copied.bytes,
        blobs=len(blobs),
        bytes=manifest.size,
        repositories=manifest.repositories,
        metadata_files=metadata.files,
        completed_files=snapshot.completed,
        missing_blobs=missing,
        dangling=snapshot.dangling,
        seconds=clock.seconds,
    )


def _blobs_to_back_up(
    driver: StorageDriver, store: BackupStore, progress: Progress
) -> dict[str, int]:
    """Every blob in storage (digest -> size), once the new ones are known to fit."""
    live = scan_blobs(driver, progress)
    new = {digest: size for digest, size in live.items() if not store.has_blob(digest, size)}
    check_free_space(store.directory, sum(new.values()), len(new))
    progress.log(
        f"{len(live)} blobs ({sum(live.values())} bytes) in storage, "
        f"{len(new)} ({sum(new.values())} bytes) not backed up yet"
    )
    return live


def _read_metadata(
    driver: StorageDriver, lease: Lease, progress: Progress, clock: _Clock
) -> Snapshot:
    with lease("readonly"):
        snapshot = capture(driver, progress)
    seconds = clock.lap("metadata")
    complete(driver, snapshot)
    progress.log(
        f"metadata: {len(snapshot.files)} files of {len(snapshot.repositories())} "
        f"repositories read under the readonly lease in {seconds:.2f}s"
        + (f"; {snapshot.completed} files written meanwhile added" if snapshot.completed else "")
    )
    return snapshot


def scan_blobs(driver: StorageDriver, progress: Progress) -> dict[str, int]:
    """Digest -> size of every blob in storage."""
    sizes: dict[str, int] = {}
    try:
        for info in driver.walk(layout.BLOBS):
            parts = info.path.rsplit("/", 4)  # BLOBS/<alg>/<xx>/<hex>/data
            if not info.is_dir and parts[0] == layout.BLOBS and parts[-1] == "data":
                sizes[f"{parts[1]}:{parts[3]}"] = info.size
                if len(sizes) % 1000 == 0:
                    progress("scan", len(sizes), None)
    except PathNotFoundError:
        pass  # no blob yet
    progress("scan", len(sizes), len(sizes))
    return sizes


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


@dataclass
class _Copied:
    blobs: int = 0
    bytes: int = 0

    def report(self, progress: Progress, seconds: float) -> None:
        rate = self.bytes / seconds / 1e6 if seconds > 0 else 0.0
        progress.log(
            f"copied {self.blobs} new blobs ({self.bytes} bytes) in {seconds:.2f}s, {rate:.0f} MB/s"
        )


def _copy_blobs(
    driver: StorageDriver,
    options: BackupOptions,
    digests: list[str],
    live: dict[str, int],
    progress: Progress,
) -> tuple[list[BlobEntry], list[str], _Copied]:
    """Copy the blobs the metadata names into the store unless already there."""
    store = options.store
    entries: list[BlobEntry] = []
    missing: list[str] = []
    todo: list[str] = []
    total = 0
    for digest in digests:
        size = live.get(digest)
        if size is None:  # pushed after the scan, or a link to nothing
            try:
                size = driver.stat(layout.blob_data(digest)).size
            except PathNotFoundError:
                missing.append(digest)
                continue
        entries.append(BlobEntry(digest, size))
        if not store.has_blob(digest, size):
            todo.append(digest)
            total += size
    copied = _Copied()

    def copy(digest: str) -> int:
        source = options.root / layout.blob_data(digest).lstrip("/")
        return copy_file(source, store.blob_path(digest))

    progress("copy", 0, total)
    with closing(run_parallel(copy, todo, options.workers)) as results:
        for _, size in results:
            copied.blobs += 1
            copied.bytes += size
            progress("copy", copied.bytes, max(total, copied.bytes))
    return entries, missing, copied
