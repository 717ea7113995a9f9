"""Registry instances: their heartbeats, the state an operator asks of them, their acks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.cluster.models import InstanceRow
from registry.tasks.db import Database
from registry.tasks.models import utcnow

ADMIN_STATES = ("serving", "readonly", "stopped")


class UnknownInstance(LookupError):
    pass


class AckTimeout(TimeoutError):
    """Some live instance did not drain and acknowledge the lease in time."""


@dataclass(frozen=True)
class Heartbeat:
    id: str
    address: str
    state: str
    inflight_writes: int
    lease_token: int
    config_generation: int
    started_at: datetime
    detail: str = ""


def beat(db: Database, hb: Heartbeat) -> str:
    """Record a heartbeat; returns the admin state an operator set for this instance."""
    now = utcnow()
    with Session(db.engine) as session:
        row = session.get(InstanceRow, hb.id)
        if row is None:
            row = InstanceRow(
                id=hb.id,
                address=hb.address,
                state=hb.state,
                started_at=hb.started_at,
                heartbeat_at=now,
            )
        row.address, row.state, row.detail = hb.address, hb.state, hb.detail[:1024]
        row.inflight_writes, row.lease_token = hb.inflight_writes, hb.lease_token
        row.config_generation, row.heartbeat_at = hb.config_generation, now
        session.add(row)
        session.commit()
        return row.admin_state


def instances(db: Database) -> list[InstanceRow]:
    with Session(db.engine) as session:
        return list(session.exec(select(InstanceRow).order_by(col(InstanceRow.id))))


def live_instances(db: Database, ttl: timedelta) -> list[InstanceRow]:
    cutoff = utcnow() - ttl
    return [row for row in instances(db) if row.heartbeat_at > cutoff]


def set_admin_state(db: Database, state: str, instance_id: str | None = None) -> int:
    """Ask one instance (or every one) to serve, go read-only or stop; how many were asked."""
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
    """Drop rows of instances whose heartbeat stopped long ago (restarted processes)."""
    cutoff = utcnow() - older_than
    with Session(db.engine) as session:
        for row in session.exec(select(InstanceRow).where(col(InstanceRow.heartbeat_at) < cutoff)):
            session.delete(row)
        session.commit()


def pending_acks(db: Database, token: int, ttl: timedelta) -> list[InstanceRow]:
    """Live instances that have not yet drained and acknowledged lease `token`."""
    return [row for row in live_instances(db, ttl) if row.lease_token < token]


def wait_for_acks(
    db: Database,
    token: int,
    ttl: timedelta,
    timeout: float,
    should_stop: Callable[[], None] = lambda: None,
    poll: float = 0.2,
) -> list[str]:
    """Wait until every live instance acknowledged `token`; the ids that did."""
    deadline = time.monotonic() + timeout
    while True:
        pending = pending_acks(db, token, ttl)
        if not pending:
            return [row.id for row in live_instances(db, ttl)]
        if time.monotonic() > deadline:
            names = ", ".join(f"{r.id} ({r.inflight_writes} writes in flight)" for r in pending)
            raise AckTimeout(f"registry instances did not acknowledge the lease: {names}")
        should_stop()
        time.sleep(poll)
