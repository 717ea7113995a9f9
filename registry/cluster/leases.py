"""The named storage lease: who may change storage, and what registry instances must refuse.

`LeaseRow` (registry/cluster/models.py) is its row in the database; `Lease` one holding of
it as read back; `acquire`/`renew`/`change_mode`/`release` change the row. `TakeLease` is how
a maintenance algorithm asks for it without knowing the database: the worker hands it
`worker.lease.lease_taker(ctx)` (which acquires, waits for instances, renews, releases), tests
and benchmarks hand it `no_lease`. Tasks take the lease inside their executors, never before.

Every change is a conditional UPDATE; the token grows with every acquisition so that an
instance acknowledges one holding of the lease, never a stale one. Clocks of the processes
must roughly agree (NTP): expiry is their wall time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError

from registry.cluster.models import LeaseRow
from registry.db.database import Database
from registry.db.rows import col
from registry.db.session import Session
from registry.tasks.models import utcnow

STORAGE = "storage"
LeaseMode = Literal["online", "readonly", "stop", "shared"]
TakeLease = Callable[[LeaseMode], AbstractContextManager[object]]
"""Take the storage lease in a mode for the duration of a `with` block (DESIGN §5):
"shared" excludes other maintenance only, "readonly" freezes writes, "stop" stops every
instance ("online": see INSTANCE_STATE). Blocks are never nested: one holding per phase."""
# What each mode makes registry instances refuse. `online`: nothing, but they protect what
# their requests use from the online GC holding the lease (registry/cluster/gc_writer.py).
INSTANCE_STATE: dict[str, str] = {
    "online": "serving",
    "readonly": "readonly",
    "stop": "stopped",
    "shared": "serving",
}


def no_lease(mode: LeaseMode) -> AbstractContextManager[None]:
    """For callers outside the task platform that coordinate by other means (tests, bench)."""
    return nullcontext()


class LeaseBusy(Exception):
    def __init__(self, name: str, holder: str, mode: str) -> None:
        super().__init__(f"the {name} lease is held by {holder} (mode {mode})")
        self.holder = holder
        self.mode = mode


class LeaseLost(Exception):
    """The lease expired or was taken over: the holder must stop changing storage."""


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    mode: str
    token: int
    expires_at: datetime

    def is_live(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or utcnow())


def _as_lease(row: LeaseRow) -> Lease | None:
    if row.holder is None:
        return None
    return Lease(row.name, row.holder, row.mode, row.token, row.expires_at)


def current(db: Database, name: str = STORAGE) -> Lease | None:
    """The live lease, or None when nobody holds it (or the holder's expired)."""
    with Session(db.engine) as session:
        row = session.get(LeaseRow, name)
        lease = _as_lease(row) if row else None
    return lease if lease and lease.is_live() else None


def acquire(
    db: Database, holder: str, mode: LeaseMode, ttl: timedelta, name: str = STORAGE
) -> Lease:
    """Take the lease (or re-take it as the same holder, e.g. a redelivered task)."""
    now = utcnow()
    free = or_(
        col(LeaseRow.holder).is_(None),
        col(LeaseRow.holder) == holder,
        col(LeaseRow.expires_at) <= now,
    )
    stmt = (
        update(LeaseRow)
        .where(and_(col(LeaseRow.name) == name, free))
        .values(
            holder=holder,
            mode=mode,
            token=col(LeaseRow.token) + 1,
            acquired_at=now,
            expires_at=now + ttl,
        )
    )
    with db.engine.begin() as connection:
        taken = connection.execute(stmt).rowcount == 1
    if not taken:
        _insert_first(db, name, holder, mode, ttl)
    with Session(db.engine) as session:
        row = session.get(LeaseRow, name)
        assert row is not None
        if row.holder != holder:
            raise LeaseBusy(name, row.holder or "?", row.mode)
        lease = _as_lease(row)
    assert lease is not None
    return lease


def _insert_first(db: Database, name: str, holder: str, mode: str, ttl: timedelta) -> None:
    now = utcnow()
    with Session(db.engine) as session:
        try:
            session.add(
                LeaseRow(
                    name=name,
                    holder=holder,
                    mode=mode,
                    token=1,
                    acquired_at=now,
                    expires_at=now + ttl,
                )
            )
            session.commit()
        except IntegrityError:
            pass  # someone holds it; acquire() reports who


def _update_held(db: Database, lease: Lease, **values: object) -> None:
    stmt = (
        update(LeaseRow)
        .where(col(LeaseRow.name) == lease.name, col(LeaseRow.token) == lease.token)
        .where(col(LeaseRow.holder) == lease.holder, col(LeaseRow.expires_at) > utcnow())
        .values(**values)
    )
    with db.engine.begin() as connection:
        if connection.execute(stmt).rowcount != 1:
            raise LeaseLost(f"the {lease.name} lease (token {lease.token}) is no longer held")


def renew(db: Database, lease: Lease, ttl: timedelta) -> Lease:
    expires_at = utcnow() + ttl
    _update_held(db, lease, expires_at=expires_at)
    return Lease(lease.name, lease.holder, lease.mode, lease.token, expires_at)


def change_mode(db: Database, lease: Lease, mode: LeaseMode) -> Lease:
    """Switch the mode of a held lease (e.g. readonly for a snapshot, then shared)."""
    _update_held(db, lease, mode=mode)
    return Lease(lease.name, lease.holder, mode, lease.token, lease.expires_at)


def release(db: Database, lease: Lease) -> None:
    """End the lease now; a lease already lost is not an error here."""
    stmt = (
        update(LeaseRow)
        .where(col(LeaseRow.name) == lease.name, col(LeaseRow.token) == lease.token)
        .values(holder=None, expires_at=utcnow())
    )
    with db.engine.begin() as connection:
        connection.execute(stmt)
