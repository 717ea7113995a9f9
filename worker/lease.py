"""The storage lease as a task holds it (DESIGN §5): take, wait for every instance, renew, end.

Executors take it themselves, for the phases that need it (the kinds' table declares no
lease): `hold_storage_lease(ctx, mode)` around a block, or `lease_taker(ctx)` handed to an
algorithm that takes it phase by phase (registry.cluster.leases.TakeLease).

A task whose worker dies simply stops renewing: the lease expires by itself after
`cluster.lease_ttl` and every instance serves again. A lease lost while working (expired
through a long stall, or taken over) stops the task before it changes anything more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from registry.cluster import instances, leases
from worker.context import TaskContext

log = logging.getLogger("hth.tasks")


class LeaseBusyTransient(leases.LeaseBusy, TimeoutError):
    """Another task holds the storage lease: transient, the task retries with backoff."""


class LeaseHolding:
    """A held storage lease: renewed every third of its TTL from a daemon thread."""

    def __init__(self, ctx: TaskContext, lease: leases.Lease, ttl: timedelta) -> None:
        self.ctx, self.lease, self.ttl = ctx, lease, ttl
        self.stopped = threading.Event()
        self.lost: Exception | None = None
        self.thread = threading.Thread(target=self._loop, name="hth-lease", daemon=True)

    def _loop(self) -> None:
        while not self.stopped.wait(self.ttl.total_seconds() / 3):
            try:
                self.lease = leases.renew(self.ctx.db, self.lease, self.ttl)
            except leases.LeaseLost as exc:
                self.lost = exc
                return
            except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next round
                log.warning("task %s: renewing the storage lease failed: %s", self.ctx.task_id, exc)

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def expires_at(self) -> datetime:
        """When the lease runs out unless renewed again (as of the last renewal)."""
        return self.lease.expires_at


def lease_taker(ctx: TaskContext) -> leases.TakeLease:
    """The `TakeLease` an executor hands its algorithm: hold_storage_lease for this task."""

    def take_lease(mode: leases.LeaseMode) -> AbstractContextManager[LeaseHolding]:
        return hold_storage_lease(ctx, mode)

    return take_lease


@contextmanager
def hold_storage_lease(ctx: TaskContext, mode: leases.LeaseMode) -> Iterator[LeaseHolding]:
    """Hold the storage lease in `mode` for the body of the with-block (every instance has
    acknowledged it first, but in `shared` mode), giving the block the holding."""
    cluster = ctx.settings.cluster
    ttl = cluster.lease_ttl
    holder = f"{ctx.kind} task {ctx.task_id}"
    try:
        lease = leases.acquire(ctx.db, holder, mode, ttl)
    except leases.LeaseBusy as exc:
        raise LeaseBusyTransient(leases.STORAGE, exc.holder, exc.mode) from None
    renewer = LeaseHolding(ctx, lease, ttl)
    renewer.thread.start()
    try:
        if mode != "shared":
            _wait_for_instances(ctx, lease, renewer)
        yield renewer
        renewer.check()
    finally:
        renewer.stopped.set()
        leases.release(ctx.db, renewer.lease)
        ctx.log(f"storage lease ({mode}) released")


def _wait_for_instances(ctx: TaskContext, lease: leases.Lease, renewer: LeaseHolding) -> None:
    cluster = ctx.settings.cluster
    ctx.progress("waiting for registry instances", 0, None)
    acked = instances.wait_for_acks(
        ctx.db,
        lease.token,
        cluster.instance_ttl,
        cluster.ack_timeout.total_seconds(),
        should_stop=renewer.check,
    )
    state = leases.INSTANCE_STATE[lease.mode]
    names = ", ".join(acked) if acked else "none running"
    ctx.log(f"storage lease ({lease.mode}, token {lease.token}): instances {state}: {names}")
