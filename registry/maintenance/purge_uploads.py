"""Purge stale upload sessions, as Distribution's uploadpurging does.

Every `_uploads/<id>` directory whose `startedat` time is older than the cut-off is deleted
(or only reported, in a dry run). Uploads without a readable `startedat` are kept, like
Distribution keeps them; an unparsable one is reported as an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry import layout
from registry.config import UploadPurgingSettings
from registry.maintenance.progress import Progress
from registry.storage import PathNotFoundError, StorageDriver, StorageError, StorageUnavailableError
from registry.tasks.params import PurgeUploadsParams

LISTED_LIMIT = 1000  # paths listed in the result; the counts are always complete


@dataclass(frozen=True)
class PurgeOptions:
    older_than: datetime
    dry_run: bool = False

    @classmethod
    def from_params(
        cls, params: PurgeUploadsParams, defaults: UploadPurgingSettings, now: datetime
    ) -> PurgeOptions:
        age = defaults.age if params.age is None else params.age  # 0 is an age
        dry_run = defaults.dryrun if params.dry_run is None else params.dry_run
        return cls(older_than=now - age, dry_run=dry_run)


@dataclass
class PurgeReport:
    older_than: datetime
    dry_run: bool
    scanned: int = 0
    purged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "older_than": self.older_than.isoformat(),
            "scanned": self.scanned,
            "purged_count": len(self.purged),
            "purged": self.purged[:LISTED_LIMIT],
            "error_count": len(self.errors),
            "errors": self.errors[:LISTED_LIMIT],
        }


@dataclass(frozen=True)
class UploadDir:
    path: str
    started_at: datetime | None


def purge_uploads(driver: StorageDriver, options: PurgeOptions, progress: Progress) -> PurgeReport:
    report = PurgeReport(older_than=options.older_than, dry_run=options.dry_run)
    stale: list[str] = []
    for upload in _scan(driver, progress, report):
        report.scanned += 1
        if upload.started_at is not None and upload.started_at < options.older_than:
            stale.append(upload.path)
    verb = "would delete" if options.dry_run else "deleting"
    for path in progress.iterate("purge", stale):
        if options.dry_run or _delete(driver, path, report):
            progress.log(f"{verb} {path}")
            report.purged.append(path)
    progress.log(
        f"{len(report.purged)} of {report.scanned} uploads older than "
        f"{options.older_than.isoformat()} {'to purge' if options.dry_run else 'purged'}"
    )
    return report


def _scan(driver: StorageDriver, progress: Progress, report: PurgeReport) -> Iterator[UploadDir]:
    listed = 0
    for uploads_root in _uploads_roots(driver, layout.REPOSITORIES):
        listed += 1
        progress("scan", listed, None)
        for path in _list(driver, uploads_root):
            yield UploadDir(path, _started_at(driver, path, report))


def _uploads_roots(driver: StorageDriver, path: str) -> Iterator[str]:
    """Every repository's `_uploads` folder; other reserved (`_`) folders are not entered."""
    for child in _list(driver, path):
        base = child.rpartition("/")[2]
        if base == "_uploads":
            yield child
        elif not base.startswith("_"):
            yield from _uploads_roots(driver, child)


def _list(driver: StorageDriver, path: str) -> list[str]:
    try:
        return driver.list(path)
    except PathNotFoundError:
        return []


def _started_at(driver: StorageDriver, upload: str, report: PurgeReport) -> datetime | None:
    try:
        text = driver.get_content(f"{upload}/startedat").decode("utf-8", "replace").strip()
    except PathNotFoundError:
        return None
    try:
        started = datetime.fromisoformat(text)
    except ValueError:
        report.errors.append(f"{upload}/startedat: not an RFC 3339 time: {text[:64]!r}")
        return None
    if started.tzinfo is None:
        report.errors.append(f"{upload}/startedat: no time zone: {text[:64]!r}")
        return None
    return started


def _delete(driver: StorageDriver, path: str, report: PurgeReport) -> bool:
    try:
        driver.delete(path)
    except PathNotFoundError:
        return False  # finished or cancelled by its client meanwhile
    except StorageUnavailableError:
        raise  # transient: the task is retried, and the purge is idempotent
    except StorageError as exc:
        report.errors.append(f"{path}: {exc}")
        return False
    return True
