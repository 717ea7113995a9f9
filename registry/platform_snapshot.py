"""What the task database says about the platform right now: task counts and durations, GC
totals, last successful GC and backup, the storage lease and the registry instances.

Read at scrape time by `/metrics` and by `/api/v1/status`; plain data, no Prometheus here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func

from registry.cluster import instances, leases
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session
from registry.tasks.models import TaskRow
from registry.tasks.states import TERMINAL, WAITING, State

# Task kinds whose last success operators watch (alerts on its age).
WATCHED_KINDS = ("gc", "backup")


@dataclass
class GCTotals:
    runs: Counter[str] = field(default_factory=Counter)  # by final state
    blobs_deleted: int = 0  # real (not dry) runs that succeeded
    bytes_freed: int = 0


@dataclass
class LeaseState:
    holder: str
    mode: str
    token: int
    expires_at: datetime


@dataclass
class PlatformSnapshot:
    tasks: Counter[tuple[str, str]]  # (kind, state) -> count
    durations: dict[str, list[float]]  # kind -> seconds of every finished run
    gc: GCTotals
    last_success: dict[str, datetime]  # kind -> finished_at of its newest success
    lease: LeaseState | None
    instances: Counter[str]  # state -> live instances (servers)
    instances_dead: int
    instance_processes: int = 0  # live HTTP worker processes of live instances

    @property
    def queue_depth(self) -> int:
        """Tasks waiting for a worker (queued, or retrying after a transient error)."""
        return sum(n for (_, state), n in self.tasks.items() if state in WAITING)


def snapshot(db: Database, instance_ttl: timedelta) -> PlatformSnapshot:
    with Session(db.engine) as session:
        counts = session.exec(
            select(TaskRow.kind, TaskRow.state, func.count()).group_by(
                col(TaskRow.kind), col(TaskRow.state)
            )
        ).all()
        finished = session.exec(
            select(TaskRow.kind, TaskRow.state, TaskRow.started_at, TaskRow.finished_at).where(
                col(TaskRow.state).in_([s.value for s in TERMINAL])
            )
        ).all()
        gc_results = session.exec(
            select(TaskRow.result).where(
                col(TaskRow.kind) == "gc", col(TaskRow.state) == State.SUCCEEDED
            )
        ).all()
    durations: dict[str, list[float]] = {}
    last_success: dict[str, datetime] = {}
    gc = GCTotals()
    for kind, state, started, ended in finished:
        if started is not None and ended is not None:
            durations.setdefault(kind, []).append(max(0.0, (ended - started).total_seconds()))
        if state == State.SUCCEEDED and ended is not None and kind in WATCHED_KINDS:
            last_success[kind] = max(ended, last_success.get(kind, ended))
        if kind == "gc":
            gc.runs[state] += 1
    for result in gc_results:
        if result and not result.get("dry_run", False):
            gc.blobs_deleted += int(result.get("blobs_deleted", 0))
            gc.bytes_freed += int(result.get("bytes_freed", 0))
    views = instances.instances(db, instance_ttl)
    return PlatformSnapshot(
        tasks=Counter({(kind, state): int(n) for kind, state, n in counts}),
        durations=durations,
        gc=gc,
        last_success=last_success,
        lease=_lease(db),
        instances=Counter(view.state for view in views if view.live),
        instances_dead=sum(1 for view in views if not view.live),
        instance_processes=sum(len(view.live_processes) for view in views),
    )


def _lease(db: Database) -> LeaseState | None:
    lease = leases.current(db)
    if lease is None:
        return None
    return LeaseState(lease.holder, lease.mode, lease.token, lease.expires_at)
