"""Helpers of the backup and restore tests: a progress sink that records, backup options on
temporary folders, tree fingerprints and a check that a tree has no torn references."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from registry import layout
from registry.cluster.leases import LeaseMode, no_lease
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.backup.take import (
    BackupOptions,
    BackupResult,
    create_backup,
)
from registry.maintenance.digestset import key_digest
from registry.maintenance.gc.refs import parse_refs
from registry.maintenance.progress import Progress, ProgressState
from registry.storage import StorageDriver, create_driver

_REVISION = re.compile(
    r"^docker/registry/v2/repositories/(.+?)/_manifests/revisions/(\w+)/(\w+)/link$"
)
_TAG = re.compile(r"^docker/registry/v2/repositories/(.+?)/_manifests/tags/([^/]+)/current/link$")


@dataclass
class Recorder:
    """A ProgressSink keeping every report and log line; cancels after `cancel_after` reports."""

    cancel_after: int | None = None
    reports: list[ProgressState] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    events: list[str] | None = None  # shared with a LeaseLog to see what ran under a lease

    def report(self, state: ProgressState) -> None:
        self.reports.append(state)
        if self.events is not None:
            self.events.append(state.phase)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def cancel_requested(self) -> bool:
        return self.cancel_after is not None and len(self.reports) >= self.cancel_after

    def progress(self) -> Progress:
        return Progress(self, min_interval=0.0)

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class LeaseLog:
    """A TakeLease that records when each mode is taken and ended."""

    events: list[str] = field(default_factory=list)

    def __call__(self, mode: LeaseMode) -> AbstractContextManager[None]:
        return self._held(mode)

    @contextmanager
    def _held(self, mode: LeaseMode) -> Iterator[None]:
        self.events.append(f"take {mode}")
        try:
            yield
        finally:
            self.events.append(f"end {mode}")

    def during(self, mode: LeaseMode) -> list[str]:
        """The distinct events seen while `mode` was held, in order."""
        start, end = self.events.index(f"take {mode}"), self.events.index(f"end {mode}")
        return list(dict.fromkeys(self.events[start + 1 : end]))


def filesystem(root: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(root)})


def backup(root: Path, store: BackupStore, keep: int = 7, **options: bool) -> BackupResult:
    """A backup of the registry at `root` with no lease (nothing else coordinates here)."""
    opts = BackupOptions(root, store, keep, **options)
    return create_backup(filesystem(root), opts, no_lease, Recorder().progress())


def fingerprint(root: Path) -> dict[str, str]:
    """Every file below `root` (relative path) with the sha256 of its content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def metadata_and_blobs(root: Path) -> dict[str, str]:
    """The fingerprint of what a backup keeps: all but upload sessions."""
    return {path: h for path, h in fingerprint(root).items() if "/_uploads/" not in path}


def torn_references(root: Path) -> list[str]:
    """What a registry would fail to serve: manifests without their blob, blobs a manifest
    needs but not linked or absent, index children and tag targets without a revision."""
    problems = []
    files = set(fingerprint(root))

    def has(path: str) -> bool:
        return path.lstrip("/") in files

    for path in sorted(files):
        if match := _TAG.match(path):
            digest = (root / path).read_text()
            if not has(layout.revision_link(match.group(1), digest)):
                problems.append(f"tag {match.group(1)}:{match.group(2)} -> missing {digest}")
        match = _REVISION.match(path)
        if match is None:
            continue
        name, digest = match.group(1), f"{match.group(2)}:{match.group(3)}"
        if not has(layout.blob_data(digest)):
            problems.append(f"{name}@{digest}: manifest blob missing")
            continue
        refs = parse_refs((root / layout.blob_data(digest).lstrip("/")).read_bytes())
        for blob in map(key_digest, refs.blobs):
            if not has(layout.layer_link(name, blob)) or not has(layout.blob_data(blob)):
                problems.append(f"{name}@{digest}: blob {blob} not served")
        for child in map(key_digest, refs.children):
            if not has(layout.revision_link(name, child)):
                problems.append(f"{name}@{digest}: child {child} missing")
    return problems
