"""What a `usage` run found, per repository, per namespace and in total: computed by
registry/maintenance/usage.py, stored by registry/tasks/usage.py, read by the API's metrics,
which so import none of GC's planner and sweeper."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RepositoryUsage:
    repository: str
    namespace: str
    size_bytes: int  # every blob its manifests reference, and the manifests, once each
    unique_bytes: int  # of those, the bytes no other repository references
    manifests: int
    tags: int
    last_push_at: datetime | None  # newest tag link write; None: no tag


@dataclass
class NamespaceUsage:
    namespace: str
    size_bytes: int  # blobs referenced in the namespace, each counted once
    unique_bytes: int  # of those, the bytes no other namespace references
    repositories: int


@dataclass
class UsageResult:
    computed_at: datetime
    total_bytes: int  # every referenced blob once
    gc_would_free_bytes: int  # blob and upload bytes a `gc` with these options frees now
    blobs: int
    seconds: float = 0.0
    repositories: list[RepositoryUsage] = field(default_factory=list)
    namespaces: list[NamespaceUsage] = field(default_factory=list)

    def summary(self, top: int = 10) -> dict[str, Any]:
        """The task's result: totals and the largest repositories (the rest is in the DB)."""
        largest = sorted(self.repositories, key=lambda r: (-r.size_bytes, r.repository))[:top]
        return {
            "computed_at": self.computed_at.isoformat(),
            "total_bytes": self.total_bytes,
            "gc_would_free_bytes": self.gc_would_free_bytes,
            "blobs": self.blobs,
            "repositories": len(self.repositories),
            "namespaces": len(self.namespaces),
            "seconds": self.seconds,
            "largest": [{**asdict(r), "last_push_at": _iso(r.last_push_at)} for r in largest],
        }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
