"""What a GC run left in place and why: the grace period, uploads, references; and the lines
that say so (in the task log and in `hth-ctl docker-registry-garbage-collect`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.durations import format_duration
from registry.maintenance.backup.space import human
from registry.words import plural

GRACE_FLAG = "--grace-period 0"  # hth-ctl docker-registry-garbage-collect
FREE_NOW = {"param": "grace_period", "value": 0, "flag": GRACE_FLAG}


def _later(current: datetime | None, when: datetime | None) -> datetime | None:
    if when is None:
        return current
    return when if current is None or when > current else current


def _iso(when: datetime | None) -> str | None:
    """UTC to the second, rounded up: never earlier than the moment it names."""
    if when is None:
        return None
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when.isoformat().replace("+00:00", "Z")


@dataclass
class KeptByGrace:
    """Unreferenced blobs and unkept manifests written within the grace period."""

    grace: timedelta
    blobs: int = 0
    bytes: int = 0
    manifests: int = 0
    youngest: datetime | None = None  # when the youngest of them was written (or linked)

    def add(self, written: datetime | None, blobs: int = 0, size: int = 0) -> None:
        self.blobs += blobs
        self.bytes += size
        self.youngest = _later(self.youngest, written)

    def to_dict(self) -> dict[str, Any]:
        held = bool(self.blobs or self.manifests)
        after = self.youngest + self.grace if self.youngest is not None else None
        return {
            "blobs": self.blobs,
            "bytes": self.bytes,
            "manifests": self.manifests,
            "collectable_after": _iso(after) if held else None,
            # Only a shorter grace period frees them sooner; with none, they arrived mid-run.
            "free_now_with": FREE_NOW if held and self.grace > timedelta(0) else None,
        }


@dataclass
class KeptUploads:
    """Upload sessions left in place: active within the grace period, or not purged at all."""

    grace: timedelta
    purging: bool
    uploads: int = 0
    bytes: int = 0
    youngest: datetime | None = None

    def add(self, last_active: datetime | None, size: int) -> None:
        self.uploads += 1
        self.bytes += size
        self.youngest = _later(self.youngest, last_active)

    def to_dict(self) -> dict[str, Any]:
        held = self.uploads > 0 and self.purging
        after = self.youngest + self.grace if self.youngest is not None else None
        return {
            "uploads": self.uploads,
            "bytes": self.bytes,
            "reason": "active within the grace period" if self.purging else "purge_uploads is off",
            "collectable_after": _iso(after) if held else None,
            "free_now_with": FREE_NOW if held and self.grace > timedelta(0) else None,
        }


@dataclass
class KeptReferenced:
    """Blobs in the store that kept manifests reference; revisions kept without the grace period."""

    blobs: int = 0
    manifests: int = 0


@dataclass
class Kept:
    grace_period: KeptByGrace
    uploads: KeptUploads
    referenced: KeptReferenced = field(default_factory=KeptReferenced)

    @classmethod
    def empty(cls, grace: timedelta, purge_uploads: bool) -> Kept:
        return cls(KeptByGrace(grace), KeptUploads(grace, purge_uploads))

    def to_dict(self) -> dict[str, Any]:
        return {
            "grace_period": self.grace_period.to_dict(),
            "uploads": self.uploads.to_dict(),
            "referenced": {"blobs": self.referenced.blobs, "manifests": self.referenced.manifests},
        }


def kept_lines(kept: dict[str, Any], grace_seconds: float, dry_run: bool) -> list[str]:
    """One line per reason that kept something, from the JSON form (the task result's)."""
    verb = "would keep" if dry_run else "kept"
    grace = format_duration(grace_seconds)
    lines = []
    young = kept["grace_period"]
    if young["blobs"] or young["manifests"]:
        lines.append(
            f"{verb} {plural(young['blobs'], 'blob')} ({human(young['bytes'])}) and "
            f"{plural(young['manifests'], 'manifest')} younger than the grace period ({grace}): "
            + _when_free(young["collectable_after"], young["free_now_with"])
        )
    uploads = kept["uploads"]
    if uploads["uploads"]:
        line = f"{verb} {plural(uploads['uploads'], 'upload')} ({human(uploads['bytes'])}): "
        if uploads["collectable_after"] is None:
            lines.append(line + uploads["reason"])
        else:
            when = _when_free(uploads["collectable_after"], uploads["free_now_with"])
            lines.append(line + f"{uploads['reason']} ({grace}); {when}")
    referenced = kept["referenced"]
    if referenced["blobs"] or referenced["manifests"]:
        lines.append(
            f"{verb} {plural(referenced['blobs'], 'blob')} and "
            f"{plural(referenced['manifests'], 'manifest')} in use (referenced by kept manifests)"
        )
    return lines


def _when_free(collectable_after: str | None, free_now_with: dict[str, Any] | None) -> str:
    text = f"collectable from {collectable_after}"
    if free_now_with is not None:
        text += f", or now with {free_now_with['flag']}"
    return text
