"""What a GC run found and did (or, in a dry run, would do), serialisable to JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from registry.maintenance.gc.kept import Kept, kept_lines


@dataclass
class PhaseStats:
    name: str
    seconds: float = 0.0
    items: int = 0  # what the phase deleted (or scanned, for the marking phases)
    bytes: int = 0


@dataclass
class GCResult:
    dry_run: bool
    delete_untagged: bool
    grace_period_seconds: float
    purge_uploads: bool
    repositories_scanned: int = 0
    manifests_scanned: int = 0
    blobs_scanned: int = 0
    blobs_marked: int = 0
    blobs_protected: int = 0  # unmarked but younger than the grace period
    repositories_deleted: list[str] = field(default_factory=list)
    manifests_deleted: int = 0  # revision links removed (repository, digest)
    blobs_deleted: int = 0
    bytes_freed: int = 0  # blob bytes; upload bytes are counted apart
    layer_links_deleted: int = 0
    uploads_purged: int = 0
    upload_bytes_freed: int = 0
    # Online GC: blobs, manifests, uploads and repositories left in place because a write
    # used them while the run was active (the sweep would have deleted them otherwise).
    kept_by_writes: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    phases: list[PhaseStats] = field(default_factory=list)
    # Every blob digest deleted (or that would be): instances drop them from their caches.
    deleted_blobs: list[str] = field(default_factory=list)
    # What stays (or would) and why: the grace period, uploads, references (gc/kept.py).
    kept: Kept = field(init=False)

    def __post_init__(self) -> None:
        grace = timedelta(seconds=self.grace_period_seconds)
        self.kept = Kept.empty(grace, self.purge_uploads)

    def phase(self, name: str) -> PhaseStats:
        stats = PhaseStats(name)
        self.phases.append(stats)
        return stats

    def to_dict(self, include_deleted_blobs: bool = False) -> dict[str, Any]:
        document = asdict(self)
        document["kept"] = self.kept.to_dict()
        if not include_deleted_blobs:
            document.pop("deleted_blobs")
        return document

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        state = " (cancelled)" if self.cancelled else ""
        return (
            f"gc{state}: {self.blobs_deleted} blobs, {self.manifests_deleted} manifests, "
            f"{len(self.repositories_deleted)} repositories, {self.uploads_purged} uploads; "
            f"{verb} {self.bytes_freed + self.upload_bytes_freed} bytes in {self.seconds:.1f}s"
        ) + "".join(f"; {line}" for line in self.kept_lines() + self._online_lines())

    def _online_lines(self) -> list[str]:
        if not self.kept_by_writes:
            return []
        return [f"kept {self.kept_by_writes} items that writes used during the run"]

    def kept_lines(self) -> list[str]:
        return kept_lines(self.kept.to_dict(), self.grace_period_seconds, self.dry_run)
