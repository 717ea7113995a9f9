"""`backup_verify`: re-hash every blob a backup lists and check its metadata archive.

Problems are named by path and digest and kept as the backup's verification state. Right
after a backup, a corrupt stored blob that the registry still holds is copied again. The
task fails when anything is wrong (backup/problems.py names what, and where).
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from pathlib import Path

from registry import layout
from registry.maintenance.backup.copy import (
    DigestMismatch,
    copy_verified,
    file_digest,
    run_parallel,
)
from registry.maintenance.backup.manifest import BackupManifest, BlobEntry, Problem, Verification
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.progress import Progress
from registry.tasks.models import utcnow

WORKERS = 2  # hashing is CPU-bound: one thread per core


def verify_backup(
    store: BackupStore,
    backup_id: str,
    progress: Progress,
    workers: int = WORKERS,
    repair_from: Path | None = None,
) -> Verification:
    """Check the backup and record the outcome; `repair_from` is a live storage root."""
    with store.shared():
        manifest = store.manifest(backup_id)
        found = Verification(checked_at=utcnow())
        _check_metadata(store, manifest, found)
        checker = _BlobChecker(store, repair_from)
        total, done = manifest.blob_bytes, 0
        progress("verify", 0, total)
        with closing(run_parallel(checker.check, manifest.blobs, workers)) as results:
            for entry, problem in results:
                done += entry.size
                found.blobs_checked += 1
                found.bytes_checked += entry.size
                if problem is not None:
                    found.add(problem)
                    progress.log(f"corrupt: {problem.path} ({problem.digest}): {problem.problem}")
                progress("verify", done, total)
        store.save_verification(backup_id, found)
    for line in checker.repaired:
        progress.log(line)
    progress.log(
        f"backup {backup_id}: {found.state}, {found.blobs_checked} blobs "
        f"({found.bytes_checked} bytes) re-hashed, {found.problem_count} problems"
    )
    return found


def _check_metadata(store: BackupStore, manifest: BackupManifest, found: Verification) -> None:
    path = store.metadata_path(manifest.id)
    expected = manifest.metadata.sha256
    try:
        actual, _ = file_digest(path, "sha256")
    except FileNotFoundError:
        found.add(Problem(str(path), f"sha256:{expected}", "missing"))
        return
    if actual != f"sha256:{expected}":
        found.add(Problem(str(path), f"sha256:{expected}", f"content hashes to {actual}"))


class _BlobChecker:
    """Runs on worker threads: it only returns problems and notes repairs."""

    def __init__(self, store: BackupStore, repair_from: Path | None) -> None:
        self.store, self.repair_from = store, repair_from
        self.repaired: list[str] = []

    def check(self, entry: BlobEntry) -> Problem | None:
        path = self.store.blob_path(entry.digest)
        algorithm = entry.digest.partition(":")[0]
        if algorithm not in hashlib.algorithms_available:
            return Problem(str(path), entry.digest, f"unknown digest algorithm {algorithm!r}")
        try:
            actual, size = file_digest(path, algorithm)
        except FileNotFoundError:
            problem = "missing"
        else:
            if actual == entry.digest:
                return None
            problem = f"content hashes to {actual} ({size} bytes, expected {entry.size})"
        not_repaired = self._repair(entry, path)
        if not_repaired is None:
            return None
        return Problem(str(path), entry.digest, problem + not_repaired)

    def _repair(self, entry: BlobEntry, path: Path) -> str | None:
        """None once repaired from the registry; else why not, to end the problem's text."""
        if self.repair_from is None:
            return ""
        live = self.repair_from / layout.blob_data(entry.digest).lstrip("/")
        try:
            copy_verified(live, path, entry.digest)
        except FileNotFoundError:
            return "; the registry no longer holds it: not repaired"
        except DigestMismatch as exc:
            return f"; the registry's own copy is corrupt too (content hashes to {exc.actual})"
        self.repaired.append(f"repaired {path} ({entry.digest}) from {live}")
        return None
