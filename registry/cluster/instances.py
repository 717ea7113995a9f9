"""Registry instances (servers) and their HTTP worker processes: heartbeats, the state an
operator asks of an instance, and the lease acks every live process must give."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, update
from sqlalchemy.exc import IntegrityError

from registry.cluster.models import InstanceProcessRow, InstanceRow
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session
from registry.errors import RegistryError
from registry.tasks.models import utcnow

ADMIN_STATES = ("serving", "readonly", "stopped")
# From least to most restrictive: what a process may still do.
_RANK = {"serving": 0, "readonly": 1, "stopped": 2}


class UnknownInstance(RegistryError, LookupError):
    code, status, default_message = "NOT_FOUND", 404, "no such registry instance"


class AckTimeout(TimeoutError):
    """Some live process did not drain and acknowledge the lease in time."""


@dataclass(frozen=True)
class Heartbeat:
    """One process's beat: `id` names its instance (server), `pid` the process itself."""

    id: str
    address: str
    state: str
    inflight_writes: int
    lease_token: int
    config_generation: int
    started_at: datetime  # when the instance (server) started
    detail: str = ""
    pid: int = field(default_factory=os.getpid)
    process_started_at: datetime | None = None  # None: started with its instance


@dataclass(frozen=True)
class ProcessView:
    pid: int
    live: bool
    state: str
    inflight_writes: int
    lease_token: int
    config_generation: int
    detail: str
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class InstanceView:
    """One instance as operators see it, summarized from its live processes."""

    id: str
    address: str
    live: bool
    state: str  # the least restrictive state of a live process: what the server still admits
    admin_state: str
    inflight_writes: int  # summed over live processes
    lease_token: int  # the lowest a live process acked: the token the whole instance acked
    config_generation: int  # likewise the lowest applied
    detail: str
    started_at: datetime
    heartbeat_at: datetime
    processes: tuple[ProcessView, ...]  # live and dead, by pid

    @property
    def live_processes(self) -> list[ProcessView]:
        return [process for process in self.processes if process.live]


def beat(db: Database, hb: Heartbeat, ttl: timedelta | None = None) -> str:
    """Record a process's heartbeat and forget its instance's processes silent for longer
    than `ttl` (dead); returns the admin state an operator set for its instance."""
    try:
        return _beat_once(db, hb, ttl)
    except IntegrityError:  # a sibling process inserted the instance row at the same moment
        return _beat_once(db, hb, ttl)


def _beat_once(db: Database, hb: Heartbeat, ttl: timedelta | None) -> str:
    now = utcnow()
    cutoff = now - ttl if ttl is not None else None
    process = {
        "state": hb.state,
        "inflight_writes": hb.inflight_writes,
        "lease_token": hb.lease_token,
        "config_generation": hb.config_generation,
        "detail": hb.detail[:1024],
        "started_at": hb.process_started_at or hb.started_at,
        "heartbeat_at": now,
    }
    with db.engine.begin() as connection:
        _upsert_process(connection, hb, process)
        if cutoff is not None:
            connection.execute(
                delete(InstanceProcessRow)
                .where(col(InstanceProcessRow.instance_id) == hb.id)
                .where(col(InstanceProcessRow.heartbeat_at) < cutoff)
            )
        summary = _summary_of_rows(connection, hb.id, cutoff)
        instance = {**process, **summary, "address": hb.address, "started_at": hb.started_at}
        stmt = update(InstanceRow).where(col(InstanceRow.id) == hb.id).values(**instance)
        if connection.execute(stmt).rowcount == 0:
            connection.execute(
                insert(InstanceRow).values(id=hb.id, admin_state="serving", **instance)
            )
        admin_state = connection.execute(
            select(InstanceRow.admin_state).where(col(InstanceRow.id) == hb.id)
        ).scalar_one()
    return str(admin_state)


def _upsert_process(connection: Connection, hb: Heartbeat, values: dict[str, Any]) -> None:
    key = (col(InstanceProcessRow.instance_id) == hb.id, col(InstanceProcessRow.pid) == hb.pid)
    stmt = update(InstanceProcessRow).where(*key).values(**values)
    if connection.execute(stmt).rowcount == 0:
        connection.execute(
            insert(InstanceProcessRow).values(instance_id=hb.id, pid=hb.pid, **values)
        )


def _summary_of_rows(
    connection: Connection, instance_id: str, cutoff: datetime | None
) -> dict[str, Any]:
    """The instance row's summary columns from its processes (kept current for readers that
    do not summarize processes themselves, e.g. a registry older than revision 0007)."""
    found = connection.execute(
        select(InstanceProcessRow).where(col(InstanceProcessRow.instance_id) == instance_id)
    )
    rows = [InstanceProcessRow(**row._mapping) for row in found]
    return _summarize([_process_view(row, cutoff) for row in rows])


def _process_view(row: InstanceProcessRow, cutoff: datetime | None) -> ProcessView:
    """`cutoff`: the oldest heartbeat of a live process (None: every process is live)."""
    return ProcessView(
        pid=row.pid,
        live=cutoff is None or row.heartbeat_at > cutoff,
        state=row.state,
        inflight_writes=row.inflight_writes,
        lease_token=row.lease_token,
        config_generation=row.config_generation,
        detail=row.detail,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
    )


def _summarize(processes: Sequence[ProcessView]) -> dict[str, Any]:
    """What an instance does, from its processes: the live ones, or all when none is."""
    basis = [p for p in processes if p.live] or list(processes)
    details = dict.fromkeys(p.detail for p in basis if p.detail)  # ordered, without repeats
    return {
        "state": min((p.state for p in basis), key=lambda s: _RANK.get(s, 0)),
        "inflight_writes": sum(p.inflight_writes for p in basis),
        "lease_token": min(p.lease_token for p in basis),
        "config_generation": min(p.config_generation for p in basis),
        "detail": "; ".join(details)[:1024],
        "heartbeat_at": max(p.heartbeat_at for p in basis),
    }


def instances(db: Database, ttl: timedelta) -> list[InstanceView]:
    """Every instance that ever beat (dead ones too), with its processes; `ttl`: how old a
    heartbeat may be for its process to be live."""
    cutoff = utcnow() - ttl
    with Session(db.engine) as session:
        rows = session.exec(select(InstanceRow).order_by(col(InstanceRow.id))).all()
        process_rows = session.exec(
            select(InstanceProcessRow).order_by(col(InstanceProcessRow.pid))
        ).all()
        by_instance: dict[str, list[ProcessView]] = defaultdict(list)
        for process in process_rows:
            by_instance[process.instance_id].append(_process_view(process, cutoff))
    return [_instance_view(row, by_instance.get(row.id, []), cutoff) for row in rows]


def _instance_view(
    row: InstanceRow, processes: list[ProcessView], cutoff: datetime
) -> InstanceView:
    if not processes:  # written by a registry older than 0007: the row is one process
        processes = [_process_view(_as_process_row(row), cutoff)]
    summary = _summarize(processes)
    return InstanceView(
        id=row.id,
        address=row.address,
        live=any(p.live for p in processes),
        admin_state=row.admin_state,
        started_at=row.started_at,
        processes=tuple(processes),
        **summary,
    )


def _as_process_row(row: InstanceRow) -> InstanceProcessRow:
    """An old-style instance row ("<host>:<port>/<pid>", one process) as its process row."""
    pid = row.id.rpartition("/")[2]
    values = row.model_dump(exclude={"id", "address", "admin_state"})
    return InstanceProcessRow(instance_id=row.id, pid=int(pid) if pid.isdigit() else 0, **values)


def instance(db: Database, instance_id: str, ttl: timedelta) -> InstanceView:
    for view in instances(db, ttl):
        if view.id == instance_id:
            return view
    raise UnknownInstance(f"no registry instance {instance_id!r}")


def live_instances(db: Database, ttl: timedelta) -> list[InstanceView]:
    return [view for view in instances(db, ttl) if view.live]


def set_admin_state(db: Database, state: str, instance_id: str | None = None) -> int:
    """Ask one instance (or every one), all its processes, to serve, go read-only or stop;
    how many instances were asked."""
    if state not in ADMIN_STATES:
        raise ValueError(f"state must be one of {', '.join(ADMIN_STATES)}")
    stmt = update(InstanceRow).values(admin_state=state)
    if instance_id is not None:
        stmt = stmt.where(col(InstanceRow.id) == instance_id)
    with db.engine.begin() as connection:
        count = connection.execute(stmt).rowcount
    if instance_id is not None and count == 0:
        raise UnknownInstance(f"no registry instance {instance_id!r}")
    return int(count)


def forget_dead(db: Database, older_than: timedelta) -> None:
    """Drop instances (and their processes) whose heartbeat stopped long ago."""
    cutoff = utcnow() - older_than
    with db.engine.begin() as connection:
        dead = select(InstanceRow.id).where(col(InstanceRow.heartbeat_at) < cutoff)
        connection.execute(
            delete(InstanceProcessRow).where(col(InstanceProcessRow.instance_id).in_(dead))
        )
        connection.execute(delete(InstanceRow).where(col(InstanceRow.heartbeat_at) < cutoff))


def pending_acks(db: Database, token: int, ttl: timedelta) -> list[InstanceView]:
    """Live instances with a live process that has not yet drained and acknowledged `token`."""
    return [view for view in live_instances(db, ttl) if view.lease_token < token]


def wait_for_acks(
    db: Database,
    token: int,
    ttl: timedelta,
    timeout: float,
    should_stop: Callable[[], None] = lambda: None,
    poll: float = 0.2,
) -> list[str]:
    """Wait until every live process of every live instance acknowledged `token`; the ids
    of the instances that did."""
    deadline = time.monotonic() + timeout
    while True:
        pending = pending_acks(db, token, ttl)
        if not pending:
            return [view.id for view in live_instances(db, ttl)]
        if time.monotonic() > deadline:
            names = ", ".join(_pending_text(view, token) for view in pending)
            raise AckTimeout(f"registry instances did not acknowledge the lease: {names}")
        should_stop()
        time.sleep(poll)


def _pending_text(view: InstanceView, token: int) -> str:
    late: Iterable[ProcessView] = (p for p in view.live_processes if p.lease_token < token)
    parts = [f"process {p.pid}: {p.inflight_writes} writes in flight" for p in late]
    return f"{view.id} ({'; '.join(parts)})"
