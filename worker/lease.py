"""The storage lease as a task holds it (DESIGN §5): take, wait for every instance, renew, end.

A task whose worker dies simply stops renewing: the lease expires by itself after
`cluster.lease_ttl` and every instance serves again. A lease lost while working (expired
through a long stall, or taken over) stops the task before it changes anything more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from registry.cluster import instances, leases
from worker.context import TaskContext

log = logging.getLogger("hth.tasks")


class LeaseBusy(leases.LeaseBusy, TimeoutError):
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


@contextmanager
def storage_lease(ctx: TaskContext, mode: leases.LeaseMode | str) -> Iterator[None]:
    """Hold the storage lease in `mode` ("none": no lease) for the body of the with-block."""
    with holding_storage_lease(ctx, mode):
        yield


@contextmanager
def holding_storage_lease(
    ctx: TaskContext, mode: leases.LeaseMode | str
) -> Iterator[LeaseHolding | None]:
    """storage_lease, giving the block the holding (its lease, its expiry; None for "none")."""
    if mode == "none":
        yield None
        return
    cluster = ctx.settings.cluster
    ttl = cluster.lease_ttl
    holder = f"{ctx.kind} task {ctx.task_id}"
    try:
        lease = leases.acquire(ctx.db, holder, mode, ttl)  # type: ignore[arg-type]
    except leases.LeaseBusy as exc:
        raise LeaseBusy(leases.STORAGE, exc.holder, exc.mode) from None
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
