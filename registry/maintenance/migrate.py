"""Copy a registry from one storage driver to another: blobs (parallel, resumable, verified
by digest) and repository metadata (links, tags, our own markers), with progress."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from registry.layout import BLOBS, HTH_ROOT, QUARANTINE, REPOSITORIES, UPLOAD_PARTS
from registry.maintenance.progress import Progress
from registry.storage import FileInfo, PathNotFoundError, StorageDriver

CHUNK = 4 * 1024 * 1024
# Metadata trees copied file by file; upload sessions (with their parts), probe objects and
# quarantined blob data (large, corrupt, kept where the scrub put it) stay behind.
METADATA_ROOTS = (REPOSITORIES, HTH_ROOT)
_SKIPPED = ("/_uploads/", f"{HTH_ROOT}/probe/", f"{UPLOAD_PARTS}/", f"{QUARANTINE}/")


class MigrationError(Exception):
    """A copy came out different from its source: nothing is switched."""


@dataclass
class MigrationStats:
    blobs_copied: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    metadata_copied: int = 0
    metadata_unchanged: int = 0
    metadata_deleted: int = 0
    seconds: float = 0.0
    phases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        mib = self.bytes_copied / (1024 * 1024)
        found["mib_per_second"] = round(mib / self.seconds, 1) if self.seconds else None
        return found


def _files(driver: StorageDriver, root: str) -> Iterator[FileInfo]:
    try:
        for info in driver.walk(root):
            if not info.is_dir:
                yield info
    except PathNotFoundError:
        return


def _digest_of(path: str) -> str:
    """blobs/<alg>/<xx>/<hex>/data -> <alg>:<hex>"""
    parts = path.removeprefix(BLOBS + "/").split("/")
    return f"{parts[0]}:{parts[2]}"


def copy_blob(source: StorageDriver, dest: StorageDriver, info: FileInfo) -> int:
    """Copy one blob unless the target already holds it at the same size; bytes copied."""
    try:
        if dest.stat(info.path).size == info.size:
            return 0
    except PathNotFoundError:
        pass
    algorithm, expected = _digest_of(info.path).split(":", 1)
    hasher = hashlib.new(algorithm)
    with source.reader(info.path) as stream, dest.writer(info.path) as writer:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
            writer.write(chunk)
        if hasher.hexdigest() != expected:
            writer.cancel()
            raise MigrationError(f"{info.path}: content does not match its digest")
        writer.commit()
    return info.size


def copy_blobs(
    source: StorageDriver,
    dest: StorageDriver,
    progress: Progress,
    stats: MigrationStats,
    workers: int = 8,
) -> None:
    blobs = [i for i in _files(source, BLOBS) if i.path.endswith("/data")]
    done = 0
    progress("copying blobs", 0, len(blobs))
    for copied in _parallel(lambda info: copy_blob(source, dest, info), blobs, workers):
        done += 1
        if copied:
            stats.blobs_copied += 1
            stats.bytes_copied += copied
        else:
            stats.blobs_skipped += 1
        progress("copying blobs", done, len(blobs))


def _metadata(driver: StorageDriver) -> dict[str, FileInfo]:
    found: dict[str, FileInfo] = {}
    for root in METADATA_ROOTS:
        for info in _files(driver, root):
            if not any(skip in info.path for skip in _SKIPPED):
                found[info.path] = info
    return found


def _copy_small(source: StorageDriver, dest: StorageDriver, path: str) -> bool:
    """Copy one metadata file unless the target holds the same bytes; True if copied."""
    data = source.get_content(path)
    try:
        if dest.get_content(path) == data:
            return False
    except PathNotFoundError:
        pass
    dest.put_content(path, data)
    return True


def copy_metadata(
    source: StorageDriver,
    dest: StorageDriver,
    progress: Progress,
    stats: MigrationStats,
    workers: int = 8,
    prune: bool = False,
) -> None:
    """Copy every link, tag and marker; with `prune`, delete from the target what the source
    no longer has (tags deleted since an earlier pass)."""
    wanted = _metadata(source)
    phase = "final metadata pass" if prune else "copying metadata"
    paths = sorted(wanted)
    progress(phase, 0, len(paths))
    copies = _parallel(lambda path: _copy_small(source, dest, path), paths, workers)
    for done, copied in enumerate(copies):
        if copied:
            stats.metadata_copied += 1
        else:
            stats.metadata_unchanged += 1
        progress(phase, done + 1, len(paths))
    if prune:
        for path in sorted(set(_metadata(dest)) - set(wanted)):
            dest.delete(path)
            stats.metadata_deleted += 1


def _parallel(work: Callable[[Any], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
    """Results of `work(item)` as they complete; the first error stops the rest."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hth-migrate") as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def migrate_bulk(
    source: StorageDriver, dest: StorageDriver, progress: Progress, workers: int = 8
) -> MigrationStats:
    """The long pass while the registry keeps serving: every blob, then the metadata."""
    stats = MigrationStats()
    started = time.monotonic()
    copy_blobs(source, dest, progress, stats, workers)
    copy_metadata(source, dest, progress, stats, workers)
    stats.seconds = time.monotonic() - started
    stats.phases.append("bulk")
    return stats


def migrate_final(
    source: StorageDriver,
    dest: StorageDriver,
    progress: Progress,
    stats: MigrationStats,
    workers: int = 8,
) -> None:
    """The short pass under a read-only lease: blobs pushed meanwhile, then the metadata."""
    started = time.monotonic()
    copy_blobs(source, dest, progress, stats, workers)
    copy_metadata(source, dest, progress, stats, workers, prune=True)
    stats.seconds += time.monotonic() - started
    stats.phases.append("final")
