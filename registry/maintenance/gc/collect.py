"""Garbage collection: mark and sweep over Distribution's layout (docs/gc.md says what stays).

`collect_garbage(driver, GCOptions(...))` is a plain function: the task wrapper passes a
progress callback, a `should_stop` check and a log sink, and stores the returned GCResult.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from registry.config import GCSettings
from registry.maintenance.gc.pacing import Pacer
from registry.maintenance.gc.plan import Planner
from registry.maintenance.gc.result import GCResult
from registry.maintenance.gc.run import Fence, GCError, GCOptions, RunContext
from registry.maintenance.gc.sweep import Sweeper
from registry.maintenance.gc.workers import ProgressFn, Work
from registry.maintenance.progress import TaskCancelled
from registry.storage import StorageDriver
from registry.tasks.params import GCParams

__all__ = ["GCError", "GCOptions", "GCResult", "collect_garbage", "options_from_params"]


def options_from_params(params: GCParams, defaults: GCSettings) -> GCOptions:
    delete_untagged, grace = params.delete_untagged, params.grace_period
    return GCOptions(
        dry_run=params.dry_run,
        delete_untagged=defaults.delete_untagged if delete_untagged is None else delete_untagged,
        grace_period=defaults.grace_period if grace is None else grace,  # 0 is a grace period
        purge_uploads=params.purge_uploads,
        remove_layer_links=params.remove_layer_links,
        workers=defaults.workers,
    )


def collect_garbage(
    driver: StorageDriver,
    options: GCOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    log_line: Callable[[str], None] | None = None,
    fence: Fence | None = None,
) -> GCResult:
    """Mark, then sweep (in a dry run, only count). Raises GCError before deleting anything
    when the tree cannot be read safely. When should_stop() (or progress) cancels, it stops
    between units of work and returns the result so far with `cancelled` set. `fence`: how
    the sweep agrees with concurrent writes on each key (online GC; None: nobody writes)."""
    options = options or GCOptions()
    # Reads on as many threads as pay off for this driver; deletes on all of them: each one
    # waits on the backend (an object store's round trip, the disk's block discard).
    readers = min(options.workers, driver.read_concurrency)
    pace = Pacer(options.share_while_busy)
    ctx = RunContext(driver, options, Work(readers, should_stop, progress, pace), log_line, fence)
    started = time.monotonic()
    try:
        plan = Planner(ctx).make()
        ctx.work.close()
        # The sweep pauses between its claims only: a claim's marks expire (gc/sweep.py).
        ctx.work, ctx.pace = Work(options.workers, should_stop, progress), pace
        Sweeper(ctx, plan).sweep()
    except TaskCancelled:
        ctx.result.cancelled = True
        ctx.say("cancelled between units of work: the next run finishes the job")
    finally:
        ctx.work.close()
        ctx.result.seconds = round(time.monotonic() - started, 3)
    if pace.paused:
        ctx.say(f"paused {pace.paused:.1f}s of it while other processes kept the CPU busy")
    ctx.say(ctx.result.summary())
    return ctx.result
