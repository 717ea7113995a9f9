"""Corruption found in a backup, named for the operator: each bad blob by digest and by the
repositories that link it, how many there are, and where the kept backup is. A backup or a
verify that finds any ends `failed` with this error (a monitor sees it) and keeps its files.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Collection, Iterable
from typing import Any

import zstandard

from registry import layout
from registry.maintenance.backup.manifest import Problem, Verification
from registry.maintenance.backup.snapshot import read_archive
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.outcome import FailedWithResult

NAMED = 5  # problems named in the one-line error; all are in verification.json
LISTED = 100  # problems listed in the task's result
_LINK = re.compile(
    rf"^{re.escape(layout.REPOSITORIES)}/(.+?)/_(?:layers|manifests/revisions)/([^/]+)/([^/]+)/link$"
)


class BackupCorrupt(FailedWithResult):
    """A backup holds corrupt or missing blobs (or a damaged metadata archive)."""


def repositories_by_digest(paths: Iterable[str], digests: Collection[str]) -> dict[str, list[str]]:
    """The repositories whose layer or manifest links name each of `digests`."""
    found: dict[str, set[str]] = {}
    for path in paths:
        match = _LINK.match(path)
        if match and (digest := f"{match.group(2)}:{match.group(3)}") in digests:
            found.setdefault(digest, set()).add(match.group(1))
    return {digest: sorted(names) for digest, names in found.items()}


def archived_repositories(
    store: BackupStore, backup_id: str, digests: Collection[str]
) -> dict[str, list[str]] | None:
    """From the backup's metadata archive; None when the archive cannot be read."""
    try:
        with open(store.metadata_path(backup_id), "rb") as handle:
            paths = [file.path for file in read_archive(handle)]
    except (OSError, ValueError, EOFError, tarfile.TarError, zstandard.ZstdError):
        return None
    return repositories_by_digest(paths, digests)


def corrupt_backup(
    store: BackupStore, backup_id: str, found: Verification, result: dict[str, Any]
) -> BackupCorrupt:
    """The error for a backup whose verification found problems; `result` is kept with it."""
    repositories = archived_repositories(store, backup_id, {p.digest for p in found.problems})
    archive = str(store.metadata_path(backup_id))
    blob_problems = found.problem_count - sum(p.path == archive for p in found.problems)
    named = [_name(p, repositories, archive) for p in found.problems[:NAMED]]
    more = found.problem_count - len(named)
    message = (
        f"backup {backup_id} is corrupt: {blob_problems} of {found.blobs_checked} blobs bad"
        + (", and its metadata archive" if blob_problems < found.problem_count else "")
        + ": "
        + "; ".join(named)
        + (f"; and {more} more" if more > 0 else "")
        + f"; kept for inspection in {store.backups / backup_id}"
    )
    listed = [
        {**_as_dict(p), "repositories": (repositories or {}).get(p.digest, [])}
        for p in found.problems[:LISTED]
    ]
    return BackupCorrupt(
        message, {**result, "problem_count": found.problem_count, "problems": listed}
    )


def _name(problem: Problem, repositories: dict[str, list[str]] | None, archive: str) -> str:
    if problem.path == archive:
        return f"metadata archive {archive}: {problem.problem}"
    if repositories is None:
        where = "repositories unknown: the metadata archive is unreadable"
    else:
        where = ", ".join(repositories.get(problem.digest, [])) or "linked by no repository"
    return f"{problem.digest} ({where}) at {problem.path}: {problem.problem}"


def _as_dict(problem: Problem) -> dict[str, str]:
    return {"digest": problem.digest, "path": problem.path, "problem": problem.problem}
