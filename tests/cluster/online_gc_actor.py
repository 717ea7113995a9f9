"""The GC worker of the online GC protocol test: lease, acknowledgements, mark and sweep with
a SweepFence whose every step is a step of the interleaving; killed at a chosen step."""

from __future__ import annotations

import time
from datetime import timedelta

from registry.cluster import gc_online, leases
from registry.cluster.gc_fence import FenceExpired, SweepFence
from registry.db.database import Database
from registry.maintenance.gc.collect import GCOptions, collect_garbage
from registry.storage import StorageDriver
from tests.cluster.online_world import World

FIRST_TTL = timedelta(seconds=1.5)  # the run that may be killed: its lease soon expires
SECOND_TTL = timedelta(seconds=30)


class Killed(Exception):
    """The GC worker died here."""


class GCActor:
    def __init__(
        self,
        db: Database,
        driver: StorageDriver,
        world: World,
        options: GCOptions,
        window: timedelta,
    ) -> None:
        self.db, self.driver, self.world, self.options = db, driver, world, options
        self.window = window  # uses before the run that it honours (the grace period's part)
        self.completed = False
        self.kept_by_writes = 0
        self.results: list[dict[str, object]] = []
        self._kill_at: int | None = None
        self._steps = 0
        self._killed = False
        self.events: list[str] = []

    def run_twice(self, kill_at: int | None) -> None:
        """A first run (killed at step `kill_at`, stopped by its fence, or losing its short
        lease when a slow backend makes its marking outlast it, as a stalled worker would),
        then one that must finish."""
        self._kill_at = kill_at
        try:
            self._run(FIRST_TTL)
        except (Killed, FenceExpired, leases.LeaseLost) as exc:
            self.events.append(f"first run ended: {type(exc).__name__}")
        self._kill_at, self._killed = None, False
        self._run(SECOND_TTL)
        self.completed = True

    def _run(self, ttl: timedelta) -> None:
        baton = self.world.baton
        while True:
            try:
                self.lease = leases.acquire(self.db, "gc task", "online", ttl)
                break
            except leases.LeaseBusy:  # the killed run's lease has not expired yet
                baton.step("gc")
                time.sleep(0.02)
        self.ttl, self._renewed = ttl, time.monotonic()
        while min(self.world.acks.values()) < self.lease.token:
            self.step("acks")
        run = self.lease.token
        self.events.append(f"run {run}: marking")
        gc_online.start_run(self.db, run, "test")
        expiry = lambda: self.lease.expires_at  # noqa: E731 - renewed as the run goes
        fence = SweepFence(self.db, run, expiry, ttl, self.window, step=self.step)
        result = collect_garbage(self.driver, self.options, fence=fence)
        self.results.append(result.to_dict())
        self.events.append(f"run {run}: {result.summary()}; kept {fence.kept}")
        self.kept_by_writes += fence.kept_by_writes
        gc_online.finish_run(self.db, run, "done")
        leases.release(self.db, self.lease)

    def step(self, label: str) -> None:
        """One step of the GC: maybe its death, maybe a renewal of its lease."""
        self._steps += label != "acks"  # fence steps: a kill lands in the sweep
        if self._killed or (self._kill_at is not None and self._steps >= self._kill_at):
            self._killed = True
            self.events.append(f"killed at {label}")
            raise Killed(label)
        if time.monotonic() - self._renewed > self.ttl.total_seconds() / 3:
            self.lease = leases.renew(self.db, self.lease, self.ttl)
            self._renewed = time.monotonic()
        self.world.baton.step("gc")
