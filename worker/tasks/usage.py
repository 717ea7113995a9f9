"""Executor of kind `usage`: measure storage use, keep it in the database (docs/usage.md)."""

from __future__ import annotations

from typing import Any

from registry.maintenance.usage import compute_usage, options_from_params
from registry.tasks.params import UsageParams
from registry.tasks.usage import save_usage
from worker.context import TaskContext
from worker.lease import hold_storage_lease


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = UsageParams.model_validate(ctx.params)
    options = options_from_params(params, ctx.settings.docker_registry.gc)
    # Read-only, like a GC dry run: instances keep serving, exclusive maintenance waits.
    with hold_storage_lease(ctx, "shared"):
        result = compute_usage(
            ctx.driver,
            options,
            stat_blobs=params.stat_blobs,
            progress=ctx.progress,
            log_line=ctx.log,
        )
    save_usage(ctx.db, ctx.task_id, result)
    return result.summary()
