"""Named locks with an expiry (a lease in a table): beat's leader election.

Clocks of the processes sharing a lock must roughly agree (NTP): expiry is their wall time.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, or_, update
from sqlalchemy.exc import IntegrityError

from registry.db.database import Database
from registry.db.rows import col
from registry.db.session import Session
from registry.tasks.models import LockRow, utcnow


def acquire(db: Database, name: str, holder: str, ttl: timedelta) -> int | None:
    """Take or renew the lock; its fencing token, or None while another holder's is live."""
    now = utcnow()
    stmt = (
        update(LockRow)
        .where(col(LockRow.name) == name)
        .where(or_(col(LockRow.holder) == holder, col(LockRow.expires_at) < now))
        .values(
            holder=holder,
            expires_at=now + ttl,
            token=case(
                (col(LockRow.holder) == holder, col(LockRow.token)), else_=col(LockRow.token) + 1
            ),
        )
    )
    with db.engine.begin() as connection:
        taken = connection.execute(stmt).rowcount == 1
    with Session(db.engine) as session:
        if not taken:
            try:
                session.add(LockRow(name=name, holder=holder, token=1, expires_at=now + ttl))
                session.commit()
            except IntegrityError:
                return None
        row = session.get(LockRow, name)
        return row.token if row is not None and row.holder == holder else None


def release(db: Database, name: str, holder: str) -> None:
    """Let another process take the lock at once (instead of after its expiry)."""
    stmt = (
        update(LockRow)
        .where(col(LockRow.name) == name, col(LockRow.holder) == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    with db.engine.begin() as connection:
        connection.execute(stmt)
