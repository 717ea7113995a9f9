"""Maintenance algorithms (plain functions over a storage driver) and the table of task kinds.

Adding a task kind `foo` takes three pieces and no other change (API, CLI, beat and Flower
find it through `KINDS`):

| file | what to write |
|---|---|
| `registry/maintenance/foo.py` | `Params` (pydantic, extra="forbid", all fields defaulted) and |
| | the algorithm `foo(driver, options, progress) -> dict`: no Celery, tested alone |
| `worker/tasks/foo.py` | `execute(ctx: TaskContext) -> dict`: options from `ctx.params` |
| | and `ctx.settings`, run the algorithm on `ctx.driver` with `ctx.progress` |
| `KINDS` below | one row: `"foo": TaskKind("registry.maintenance.foo:Params", ...)` with |
| | its time limits and `storage_lease` mode |

Tasks must be idempotent: a redelivered task runs again from the start. Between units of
work call `progress(phase, done, total)`; it raises `TaskCancelled` once a cancel was asked.
Errors: `StorageUnavailableError`, `ConnectionError` and `TimeoutError` are retried with
backoff; anything else fails the task at once with its message (`failure.FailedWithResult`
also keeps a result: what a task that did its work found wrong).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from registry.tasks.errors import InvalidParams, UnknownTaskKind

if TYPE_CHECKING:  # pydantic is imported to validate params: a Celery worker's main process
    # reads the kinds' limits only (worker/boot.py)
    from pydantic import BaseModel

LeaseMode = Literal["none", "readonly", "stop"]


@dataclass(frozen=True)
class TaskKind:
    params: str  # "module:Class" of its pydantic parameters model, imported when first used
    soft_time_limit: float  # seconds; then the task is asked to stop (and fails)
    time_limit: float  # seconds; then its worker process is killed
    # What registry instances must refuse while it runs (DESIGN §5); "none": no storage lease.
    storage_lease: LeaseMode = "none"
    description: str = ""
    # Changes storage wholesale: refused (409) while another exclusive task is unfinished.
    exclusive: bool = False

    def params_model(self) -> type[BaseModel]:
        module_name, _, class_name = self.params.partition(":")
        model: type[BaseModel] = getattr(importlib.import_module(module_name), class_name)
        return model


KINDS: dict[str, TaskKind] = {
    "purge_uploads": TaskKind(
        "registry.maintenance.purge_uploads:Params",
        soft_time_limit=6 * 3600,
        time_limit=6 * 3600 + 300,
        description="remove upload sessions older than docker_registry.upload_purging.age",
    ),
    # gc takes the storage lease itself: its mode (readonly or stop) is a parameter.
    "gc": TaskKind(
        "registry.maintenance.gc.collect:Params",
        soft_time_limit=12 * 3600,
        time_limit=12 * 3600 + 300,
        description="mark and sweep: free blobs, manifests and repositories nothing references",
        exclusive=True,
    ),
    "noop": TaskKind(
        "registry.maintenance.noop:Params",
        soft_time_limit=3600,
        time_limit=3600 + 60,
        description="does nothing, in steps: checks the task platform end to end",
    ),
    # backup and restore take the storage lease themselves, phase by phase (backup.py).
    "backup": TaskKind(
        "registry.maintenance.backup.take:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="back up a filesystem registry into docker_registry.backups.directory",
        exclusive=True,
    ),
    "restore": TaskKind(
        "registry.maintenance.backup.restore:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="rebuild the storage from a backup (by id or exported file) and swap it in",
        exclusive=True,
    ),
    "backup_verify": TaskKind(
        "registry.maintenance.backup.verify:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="re-hash every blob of a backup and record what is corrupt",
    ),
    "backup_export": TaskKind(
        "registry.maintenance.backup.export:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="write a backup as one self-contained .tar.zst file",
    ),
    # reconfigure takes the storage lease itself, for the final pass of a migration only.
    "reconfigure": TaskKind(
        "registry.maintenance.reconfigure:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="apply hth.json to every instance (probe, optional migration, rollback)",
    ),
    "backup_prune": TaskKind(
        "registry.maintenance.backup.prune:Params",
        soft_time_limit=6 * 3600,
        time_limit=6 * 3600 + 300,
        description="keep the newest docker_registry.backups.keep backups, free the rest",
    ),
    # verify_storage takes the storage lease (shared) itself, only to quarantine.
    "verify_storage": TaskKind(
        "registry.maintenance.verify_storage:Params",
        soft_time_limit=24 * 3600,
        time_limit=24 * 3600 + 300,
        description="re-hash every blob; report corrupt ones and, with repair, quarantine them",
    ),
    # usage takes the storage lease (shared) itself, as a GC dry run does.
    "usage": TaskKind(
        "registry.maintenance.usage:Params",
        soft_time_limit=12 * 3600,
        time_limit=12 * 3600 + 300,
        description="bytes used per repository and namespace, and what a GC would free now",
    ),
    # retention takes the storage lease (shared) itself: pushes and pulls go on meanwhile.
    "retention": TaskKind(
        "registry.maintenance.retention_policy:Params",
        soft_time_limit=12 * 3600,
        time_limit=12 * 3600 + 300,
        description="delete the tags (and untagged manifests) a retention policy does not keep",
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
    from pydantic import ValidationError

    model = task_kind(kind).params_model()
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
