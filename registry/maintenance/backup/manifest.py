"""What a backup holds (its `manifest.json`, written once) and what its last verification
found (`verification.json`, rewritten by every verify)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

FORMAT = 1
LISTED_LIMIT = 1000  # problems kept in a verification record; the counts are always complete

VerificationState = Literal["unverified", "verified", "corrupt"]


@dataclass(frozen=True)
class BlobEntry:
    digest: str
    size: int


@dataclass(frozen=True)
class MetadataInfo:
    """The repository metadata (links, tags, our /hth/v1 area) as one tar.zst archive."""

    archive: str  # file name inside the backup's folder
    files: int
    bytes: int  # of the files themselves
    archive_bytes: int
    sha256: str  # of the archive file, re-checked by verify


@dataclass(frozen=True)
class BackupManifest:
    id: str
    created_at: datetime
    finished_at: datetime
    source: str  # the storage root it was taken from
    repositories: int
    metadata: MetadataInfo
    blobs: list[BlobEntry]
    blobs_copied: int  # what this backup added to the shared blob store
    bytes_copied: int
    missing_blobs: list[str] = field(default_factory=list)  # linked, but absent from storage

    @property
    def blob_bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)

    @property
    def size(self) -> int:
        """Bytes a restore writes: every blob plus the metadata files."""
        return self.blob_bytes + self.metadata.bytes

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "source": self.source,
            "repositories": self.repositories,
            "metadata": asdict(self.metadata),
            "totals": {"blobs": len(self.blobs), "bytes": self.size},
            "new": {"blobs": self.blobs_copied, "bytes": self.bytes_copied},
            "missing_blobs": self.missing_blobs,
            "blobs": [{"digest": b.digest, "size": b.size} for b in self.blobs],
        }
        return json.dumps(document, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BackupManifest:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise ValueError(f"unsupported backup manifest format {doc.get('format')!r}")
        return cls(
            id=doc["id"],
            created_at=datetime.fromisoformat(doc["created_at"]),
            finished_at=datetime.fromisoformat(doc["finished_at"]),
            source=doc["source"],
            repositories=doc["repositories"],
            metadata=MetadataInfo(**doc["metadata"]),
            blobs=[BlobEntry(b["digest"], b["size"]) for b in doc["blobs"]],
            blobs_copied=doc["new"]["blobs"],
            bytes_copied=doc["new"]["bytes"],
            missing_blobs=list(doc.get("missing_blobs", [])),
        )


@dataclass(frozen=True)
class Problem:
    path: str  # the file in the backup directory
    digest: str  # the blob it should hold (or the archive's expected sha256)
    problem: str


@dataclass
class Verification:
    checked_at: datetime
    blobs_checked: int = 0
    bytes_checked: int = 0
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def state(self) -> VerificationState:
        return "corrupt" if self.problem_count else "verified"

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < LISTED_LIMIT:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "checked_at": self.checked_at.isoformat(),
            "blobs_checked": self.blobs_checked,
            "bytes_checked": self.bytes_checked,
            "problem_count": self.problem_count,
            "problems": [asdict(p) for p in self.problems],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Verification:
        return cls(
            checked_at=datetime.fromisoformat(doc["checked_at"]),
            blobs_checked=doc["blobs_checked"],
            bytes_checked=doc["bytes_checked"],
            problem_count=doc["problem_count"],
            problems=[Problem(**p) for p in doc["problems"]],
        )
