"""Executors of the backup kinds: backup, restore, backup_verify, backup_export and
backup_prune (worker/executors.py names them in its table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.maintenance.backup import export as backup_export
from registry.maintenance.backup import prune as backup_prune
from registry.maintenance.backup import restore
from registry.maintenance.backup import verify as backup_verify
from registry.maintenance.backup.problems import corrupt_backup
from registry.maintenance.backup.take import (
    BackupOptions,
    backup_store,
    create_backup,
    storage_root,
    store_of,
)
from registry.tasks.params import (
    BackupExportParams,
    BackupParams,
    BackupPruneParams,
    BackupVerifyParams,
    RestoreParams,
)
from worker.context import TaskContext
from worker.lease import lease_taker


def execute_backup(ctx: TaskContext) -> dict[str, Any]:
    params = BackupParams.model_validate(ctx.params)
    root = storage_root(ctx.settings)  # refuses any other driver before it is even built
    keep = ctx.settings.docker_registry.backups.keep
    options = BackupOptions(
        root, backup_store(ctx.settings, root), keep, verify=params.verify, prune=params.prune
    )
    return create_backup(ctx.driver, options, lease_taker(ctx), ctx.progress).as_dict()


def execute_restore(ctx: TaskContext) -> dict[str, Any]:
    params = RestoreParams.model_validate(ctx.params)
    root = storage_root(ctx.settings)
    take_lease, progress = lease_taker(ctx), ctx.progress
    if params.file is not None:
        result = restore.restore_from_archive(
            Path(params.file), root, take_lease, progress, params.keep_previous
        )
    else:
        assert params.backup_id is not None  # Params checks that exactly one is given
        store = backup_store(ctx.settings, root)
        result = restore.restore_from_store(
            store, params.backup_id, root, take_lease, progress, params.keep_previous
        )
    return result.as_dict()


def execute_verify(ctx: TaskContext) -> dict[str, Any]:
    params = BackupVerifyParams.model_validate(ctx.params)
    store = store_of(ctx.settings)
    backup_id = params.backup_id or store.latest()
    found = backup_verify.verify_backup(store, backup_id, ctx.progress)
    result = {"backup_id": backup_id, **found.as_dict()}
    if found.problem_count:
        raise corrupt_backup(store, backup_id, found, result)
    return result


def execute_export(ctx: TaskContext) -> dict[str, Any]:
    params = BackupExportParams.model_validate(ctx.params)
    store = store_of(ctx.settings)
    backup_id = params.backup_id or store.latest()
    target = Path(params.file)
    return backup_export.export_backup(store, backup_id, target, ctx.progress).as_dict()


def execute_prune(ctx: TaskContext) -> dict[str, Any]:
    params = BackupPruneParams.model_validate(ctx.params)
    keep = params.keep or ctx.settings.docker_registry.backups.keep
    return backup_prune.prune_backups(store_of(ctx.settings), keep, ctx.progress).as_dict()
