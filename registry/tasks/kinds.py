"""The task kinds: name -> TaskKind (its params model, what it does, whether it changes
storage wholesale), and the checks every enqueue path runs with it (the REST API, the CLI and
beat, through worker/client.py and registry/tasks/schedules.py).

Importing it loads the params models (registry/tasks/params.py), not the algorithms.
The kind's time limits are in registry/tasks/limits.py, what runs it in
worker/executors.py (docs/architecture.md, "How to add a task kind").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.tasks.errors import InvalidParams, UnknownTaskKind
from registry.tasks.params import (
    BackupExportParams,
    BackupParams,
    BackupPruneParams,
    BackupVerifyParams,
    GCParams,
    NoopParams,
    PurgeUploadsParams,
    ReconfigureParams,
    RestoreParams,
    RetentionParams,
    UsageParams,
    VerifyStorageParams,
)


@dataclass(frozen=True)
class TaskKind:
    params: type[BaseModel]  # what its params must be (extra keys forbidden)
    description: str
    # Changes storage wholesale: refused (409) while another exclusive task is unfinished.
    exclusive: bool = False


# No row declares a storage lease: an executor takes it itself, in the mode each phase needs
# (worker/lease.py); the comments say which kinds do.
KINDS: dict[str, TaskKind] = {
    "purge_uploads": TaskKind(
        PurgeUploadsParams,
        "remove upload sessions older than docker_registry.upload_purging.age",
    ),
    # gc takes the storage lease itself: its mode (online, readonly or stop) is a parameter.
    "gc": TaskKind(
        GCParams,
        "mark and sweep: free blobs, manifests and repositories nothing references",
        exclusive=True,
    ),
    "noop": TaskKind(
        NoopParams,
        "does nothing, in steps: checks the task platform end to end",
    ),
    # backup and restore take the storage lease themselves, phase by phase (backup/take.py).
    "backup": TaskKind(
        BackupParams,
        "back up a filesystem registry into docker_registry.backups.directory",
        exclusive=True,
    ),
    "restore": TaskKind(
        RestoreParams,
        "rebuild the storage from a backup (by id or exported file) and swap it in",
        exclusive=True,
    ),
    "backup_verify": TaskKind(
        BackupVerifyParams,
        "re-hash every blob of a backup and record what is corrupt",
    ),
    "backup_export": TaskKind(
        BackupExportParams,
        "write a backup as one self-contained .tar.zst file",
    ),
    # reconfigure takes the storage lease itself, for the final pass of a migration only.
    "reconfigure": TaskKind(
        ReconfigureParams,
        "apply hth.json to every instance (probe, optional migration, rollback)",
    ),
    "backup_prune": TaskKind(
        BackupPruneParams,
        "keep the newest docker_registry.backups.keep backups, free the rest",
    ),
    # verify_storage takes the storage lease (shared) itself, only to quarantine.
    "verify_storage": TaskKind(
        VerifyStorageParams,
        "re-hash every blob; report corrupt ones and, with repair, quarantine them",
    ),
    # usage takes the storage lease (shared) itself, as a GC dry run does.
    "usage": TaskKind(
        UsageParams,
        "bytes used per repository and namespace, and what a GC would free now",
    ),
    # retention takes the storage lease (shared) itself: pushes and pulls go on meanwhile.
    "retention": TaskKind(
        RetentionParams,
        "delete the tags (and untagged manifests) a retention policy does not keep",
    ),
}


def task_kind(name: str) -> TaskKind:
    try:
        return KINDS[name]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise UnknownTaskKind(f"unknown task kind {name!r} (known: {known})") from None


def validate_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params as the kind's model accepts them (JSON-ready); 422 errors name the key."""
    model = task_kind(kind).params
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"params.{'.'.join(str(p) for p in err['loc'])}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise InvalidParams(problems) from None
    return validated.model_dump(mode="json", exclude_unset=True)


def exclusive_kinds() -> list[str]:
    return sorted(name for name, kind in KINDS.items() if kind.exclusive)
