"""Celery wrapper of kind `gc`: hold the storage lease, collect, report (docs/gc.md)."""

from __future__ import annotations

from typing import Any

from registry.maintenance.gc import Params, collect_garbage, options_from_params
from registry.maintenance.progress import TaskCancelled
from worker.context import TaskContext
from worker.lease import storage_lease


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = Params.model_validate(ctx.params)
    gc_settings = ctx.settings.docker_registry.gc
    options = options_from_params(params, gc_settings)
    # A dry run deletes nothing: instances keep serving, other maintenance is kept out.
    mode = "shared" if params.dry_run else (params.cluster_mode or gc_settings.cluster_mode)
    with storage_lease(ctx, mode):
        result = collect_garbage(ctx.driver, options, progress=ctx.progress, log_line=ctx.log)
    if result.cancelled:
        raise TaskCancelled("cancelled between units of work")
    return result.to_dict()
