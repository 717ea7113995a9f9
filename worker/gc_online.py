"""The worker's part in an online GC (docs/gc.md, "Online GC"): the run's row, the sweep's
fence on the storage lease it holds, and the phase and count reported as the run goes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from registry.cluster import gc_online
from registry.cluster.gc_fence import FenceExpired, SweepFence
from registry.cluster.gc_writer import RECENT_WINDOW
from registry.maintenance.gc.collect import GCResult
from registry.maintenance.progress import TaskCancelled
from worker.context import TaskContext
from worker.lease import LeaseHolding

_ROW_EVERY = 1.0  # seconds between updates of the run's row within a phase


@dataclass
class OnlineRun:
    ctx: TaskContext
    fence: SweepFence
    phase: str = ""
    _written_at: float = 0.0

    @property
    def run(self) -> int:
        return self.fence.run

    def progress(self, phase: str, done: int, total: int | None = None) -> None:
        """The task's progress, and the run's row (its phase, what writes kept)."""
        kept = self.fence.kept_by_writes
        self.ctx.progress(phase, done, total, note=f"{kept} kept because writes used them")
        now = time.monotonic()
        if phase != self.phase or now - self._written_at >= _ROW_EVERY:
            self.phase, self._written_at = phase, now
            gc_online.update_run(self.ctx.db, self.run, phase=phase, kept_by_writes=kept)

    def finish(self, result: GCResult | None, outcome: str) -> None:
        if result is not None:
            result.kept_by_writes = self.fence.kept_by_writes
        kept = self.fence.kept_by_writes
        gc_online.update_run(self.ctx.db, self.run, kept_by_writes=kept)
        gc_online.finish_run(self.ctx.db, self.run, outcome)


@contextmanager
def online_run(ctx: TaskContext, holding: LeaseHolding, grace: timedelta) -> Iterator[OnlineRun]:
    """Record the run (every instance has acknowledged its lease: marking may start). What
    requests used within the grace period (at most RECENT_WINDOW) before it is kept too."""
    ttl = ctx.settings.cluster.lease_ttl
    window = min(grace, timedelta(seconds=RECENT_WINDOW))
    fence = SweepFence(ctx.db, holding.lease.token, holding.expires_at, ttl, window)
    gc_online.start_run(ctx.db, fence.run, ctx.task_id)
    run = OnlineRun(ctx, fence)
    ctx.log(f"online GC run {fence.run}: writes go on; the sweep keeps what they use")
    try:
        yield run
    except TaskCancelled:
        run.finish(None, "cancelled")
        raise
    except FenceExpired:
        run.finish(None, "stopped: lease about to expire")
        raise
    except BaseException:
        run.finish(None, "failed")
        raise
