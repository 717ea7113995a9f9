"""Executor of kind `gc`: hold the storage lease, collect, report (docs/gc.md).

In `online` mode instances keep taking writes and the sweep agrees with them per key
(worker/gc_online.py); in `readonly` or `stop` mode they refuse writes (or everything). The
collection runs `docker_registry.gc.cpu_nice` steps lower in CPU priority, its threads and
the worker's session alike (worker/priority.py).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from registry.cluster.leases import LeaseMode
from registry.maintenance.gc.collect import (
    GCOptions,
    GCResult,
    collect_garbage,
    options_from_params,
)
from registry.maintenance.progress import TaskCancelled
from registry.tasks.params import GCParams
from worker.context import TaskContext
from worker.gc_online import OnlineRun, online_run
from worker.lease import hold_storage_lease
from worker.priority import lowered_group, run_niced


def execute(ctx: TaskContext) -> dict[str, Any]:
    params = GCParams.model_validate(ctx.params)
    gc_settings = ctx.settings.docker_registry.gc
    options = options_from_params(params, gc_settings)
    # A dry run deletes nothing: instances keep serving, other maintenance is kept out.
    mode: LeaseMode = (
        "shared" if params.dry_run else (params.cluster_mode or gc_settings.cluster_mode)
    )
    with hold_storage_lease(ctx, mode) as holding:
        if mode != "online":
            result = _collect(ctx, options, gc_settings.cpu_nice)
        else:
            # Writes go on meanwhile: the GC may take longer to leave the clients their CPU.
            options = replace(options, share_while_busy=gc_settings.share_while_busy)
            with online_run(ctx, holding, options.grace_period) as run:
                result = _collect(ctx, options, gc_settings.cpu_nice, run)
                run.finish(result, "cancelled" if result.cancelled else "done")
    if result.cancelled:
        raise TaskCancelled("cancelled between units of work")
    if result.kept_by_writes:
        ctx.log(f"kept {result.kept_by_writes} items that writes used during the run")
    return result.to_dict()


def _collect(
    ctx: TaskContext, options: GCOptions, nice: int, run: OnlineRun | None = None
) -> GCResult:
    """collect_garbage on a thread `nice` steps lower in priority (online: with the run's
    fence and progress)."""
    stop = threading.Event()
    progress = ctx.progress if run is None else run.progress
    fence = None if run is None else run.fence

    def work() -> GCResult:
        return collect_garbage(
            ctx.driver,
            options,
            progress=progress,
            should_stop=stop.is_set,
            log_line=ctx.log,
            fence=fence,
        )

    with lowered_group(nice):  # the thread's niceness alone orders it within the session only
        return run_niced(work, nice, stop.set)
