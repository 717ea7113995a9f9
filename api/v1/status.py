"""GET /api/v1/status: one look at the platform for operators (`hth-ctl status`, `/ui/`):
instances, workers, queue depth, running and recent tasks, last GC and backup, largest
repositories."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from api.v1.instances import InstanceOut, LeaseOut, instance_ttl
from api.v1.task_schemas import TaskOut
from api.v1.usage import UsagePage, usage_page
from registry.cluster import gc_online, instances
from registry.config import Settings
from registry.db.database import Database
from registry.platform_snapshot import WATCHED_KINDS, snapshot
from registry.tasks.records import list_tasks
from registry.tasks.states import ACTIVE
from registry.tasks.usage import latest_run
from worker.client import ping

router = APIRouter(prefix="/api/v1/status", tags=["status"], route_class=V1Route)

PING_TIMEOUT = 0.5  # seconds a status call waits for workers to answer a ping
PING_CACHE = 5.0  # seconds a ping answer is reused (the UI polls often)
RECENT = 10
LARGEST = 10  # repositories shown from the newest usage run


class WorkersOut(BaseModel):
    names: list[str]  # Celery workers that answered a ping
    error: str | None = None  # why the workers could not be asked (broker down, ...)


class LastRun(BaseModel):
    task: TaskOut | None  # the newest task of the kind, whatever its state
    last_success_at: datetime | None


class GCRunOut(BaseModel):
    """The newest online GC run: its phase and how many keys the sweep kept because
    requests used them while it ran (docs/gc.md, "Online GC")."""

    run: int
    task_id: str
    phase: str
    kept_by_writes: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class StatusOut(BaseModel):
    instances: list[InstanceOut]
    storage_lease: LeaseOut | None
    workers: WorkersOut
    queue_depth: int
    running: list[TaskOut]
    recent: list[TaskOut]
    last: dict[str, LastRun]  # "gc", "backup"
    usage: UsagePage | None = None  # the largest repositories; None before the first usage run
    gc_run: GCRunOut | None = None  # the newest online GC run; None before the first one


@router.get("", responses=error_responses(503))
async def status(db: DbDep, settings: SettingsDep) -> StatusOut:
    """The platform at a glance (workers are asked with a short ping, answers cached briefly)."""
    workers = await run_in_threadpool(ping_workers, settings)
    return await run_in_threadpool(_read, db, settings, workers)


def _read(db: Database, settings: Settings, workers: WorkersOut) -> StatusOut:
    ttl = instance_ttl(settings)
    snap = snapshot(db, ttl)
    running = [row for state in ACTIVE for row in list_tasks(db, state=state, limit=50)[0]]
    last = {}
    for kind in WATCHED_KINDS:
        newest = list_tasks(db, kind=kind, limit=1)[0]
        last[kind] = LastRun(
            task=TaskOut.of(newest[0]) if newest else None,
            last_success_at=snap.last_success.get(kind),
        )
    lease = snap.lease
    # Both lists show a task as it was read once, so its progress agrees in the two tables.
    as_running = {row.id: row for row in running}
    recent = [as_running.get(row.id, row) for row in list_tasks(db, limit=RECENT)[0]]
    usage_run = latest_run(db)
    gc_run = gc_online.latest_run(db)
    return StatusOut(
        instances=[InstanceOut.of(view) for view in instances.instances(db, ttl)],
        storage_lease=LeaseOut(**vars(lease)) if lease else None,
        workers=workers,
        queue_depth=snap.queue_depth,
        running=[TaskOut.of(row) for row in sorted(running, key=lambda r: r.id, reverse=True)],
        recent=[TaskOut.of(row) for row in recent],
        last=last,
        usage=usage_page(db, usage_run, LARGEST) if usage_run else None,
        gc_run=GCRunOut(**vars(gc_run)) if gc_run else None,
    )


_ping_lock = threading.Lock()
_ping_cache: dict[int, tuple[float, WorkersOut]] = {}


def ping_workers(settings: Settings) -> WorkersOut:
    """Names of the Celery workers answering a broadcast ping (cached a few seconds)."""
    with _ping_lock:
        cached = _ping_cache.get(id(settings))
        if cached and time.monotonic() - cached[0] < PING_CACHE:
            return cached[1]
        try:
            replies = ping(settings, PING_TIMEOUT)  # with Kombu, as Celery's control.ping
            answer = WorkersOut(names=sorted(name for reply in replies for name in reply))
        except Exception as exc:  # noqa: BLE001 - reported in the answer, not raised
            answer = WorkersOut(names=[], error=str(exc) or type(exc).__name__)
        _ping_cache[id(settings)] = (time.monotonic(), answer)
        return answer
