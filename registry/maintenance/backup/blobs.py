"""The blob phase of a backup: which blobs storage holds, which the store lacks (or holds a
copy of that a verification found bad), and copying those into the store.

A stored copy is trusted by its size alone, except one that a verification found corrupt or
missing and that was not replaced since: that one is copied again, hashed on the way, from
the registry. When the registry's own copy is corrupt too, the bad copy stays (there is
nothing better) and the backup says so.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from registry import layout
from registry.maintenance.backup.copy import DigestMismatch, copy_file, copy_verified, run_parallel
from registry.maintenance.backup.manifest import BlobEntry, Problem, Verification
from registry.maintenance.backup.space import check_free_space
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.progress import Progress
from registry.storage import PathNotFoundError, StorageDriver
from registry.tasks.models import utcnow


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


def suspect_copies(store: BackupStore) -> dict[str, datetime]:
    """Stored copies a verification found bad and nothing replaced since (digest -> when)."""
    found: dict[str, datetime] = {}
    for backup_id in store.backup_ids():
        try:
            verification = store.verification(backup_id)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable record: its backup's next verify rewrites it
        if verification is None:
            continue
        for problem in verification.problems:
            if problem.path != str(store.blob_path(problem.digest)):
                continue  # the metadata archive: a backup writes its own
            checked = verification.checked_at
            found[problem.digest] = max(found.get(problem.digest, checked), checked)
    return {digest: when for digest, when in found.items() if not _replaced(store, digest, when)}


def _replaced(store: BackupStore, digest: str, since: datetime) -> bool:
    # A copy renamed into place after the verification (a repair, a later backup's copy) has
    # a newer inode change time; the damage that verification found is older than it.
    try:
        changed = store.blob_path(digest).stat().st_ctime
    except FileNotFoundError:
        return False
    return datetime.fromtimestamp(changed, UTC) > since


def blobs_to_back_up(
    driver: StorageDriver, store: BackupStore, suspects: dict[str, datetime], progress: Progress
) -> dict[str, int]:
    """Every blob in storage (digest -> size), once the ones to copy are known to fit."""
    live = scan_blobs(driver, progress)
    new = {d: s for d, s in live.items() if d in suspects or not store.has_blob(d, s)}
    check_free_space(store.directory, sum(new.values()), len(new))
    progress.log(
        f"{len(live)} blobs ({sum(live.values())} bytes) in storage, "
        f"{len(new)} ({sum(new.values())} bytes) not backed up yet"
        + (f" or found bad by a verification ({len(suspects)})" if suspects else "")
    )
    return live


@dataclass
class Copied:
    blobs: int = 0
    bytes: int = 0
    # Not copied: a sound copy is already in the store (from an earlier backup).
    already_stored: int = 0
    already_stored_bytes: int = 0
    recopied: list[str] = field(default_factory=list)  # suspect copies replaced
    # Suspect copies kept because the registry's own copy is corrupt too: digest -> problem.
    unrepaired: dict[str, str] = field(default_factory=dict)

    def report(self, progress: Progress, seconds: float) -> None:
        rate = self.bytes / seconds / 1e6 if seconds > 0 else 0.0
        progress.log(
            f"copied {self.blobs} new blobs ({self.bytes} bytes) in {seconds:.2f}s, "
            f"{rate:.0f} MB/s; {self.already_stored} ({self.already_stored_bytes} bytes) "
            "already backed up, not copied again"
        )
        for digest in self.recopied:
            progress.log(f"copied {digest} again: a verification had found its stored copy bad")
        for digest, problem in self.unrepaired.items():
            progress.log(f"{digest} not copied again: {problem}")

    def problems(self, store: BackupStore) -> Verification:
        """The unrepaired copies as a verification's findings (for a backup not verified)."""
        found = Verification(checked_at=utcnow(), blobs_checked=len(self.recopied))
        found.blobs_checked += len(self.unrepaired)
        for digest, problem in self.unrepaired.items():
            found.add(Problem(str(store.blob_path(digest)), digest, problem))
        return found


@dataclass(frozen=True)
class BlobCopy:
    """Where blobs come from and go, and which stored copies are suspect."""

    driver: StorageDriver
    root: Path
    store: BackupStore
    suspects: dict[str, datetime]
    workers: int


def copy_blobs(
    job: BlobCopy, digests: list[str], live: dict[str, int], progress: Progress
) -> tuple[list[BlobEntry], list[str], Copied]:
    """Copy the blobs the metadata names into the store unless already there (and sound)."""
    entries, missing, todo, total = [], [], [], 0
    copied = Copied()
    for digest in digests:
        size = live.get(digest)
        if size is None:  # pushed after the scan, or a link to nothing
            try:
                size = job.driver.stat(layout.blob_data(digest)).size
            except PathNotFoundError:
                missing.append(digest)
                continue
        entries.append(BlobEntry(digest, size))
        if digest in job.suspects or not job.store.has_blob(digest, size):
            todo.append(digest)
            total += size
        else:
            copied.already_stored += 1
            copied.already_stored_bytes += size
    progress("copy", 0, total)
    with closing(run_parallel(lambda d: _copy(job, d), todo, job.workers)) as results:
        for digest, outcome in results:
            if isinstance(outcome, str):
                copied.unrepaired[digest] = outcome
                continue
            copied.blobs += 1
            copied.bytes += outcome
            if digest in job.suspects:
                copied.recopied.append(digest)
            progress("copy", copied.bytes, max(total, copied.bytes))
    return entries, missing, copied


def _copy(job: BlobCopy, digest: str) -> int | str:
    """Bytes copied, or why a suspect copy was kept (runs on worker threads)."""
    source = job.root / layout.blob_data(digest).lstrip("/")
    target = job.store.blob_path(digest)
    if digest not in job.suspects:
        return copy_file(source, target)
    try:
        return copy_verified(source, target, digest)
    except DigestMismatch as exc:
        return (
            "found bad by a verification; the registry's own copy is corrupt too "
            f"(content hashes to {exc.actual}): nothing sound to copy it from"
        )
