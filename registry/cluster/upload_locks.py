"""Upload sessions in the shared database: one writer per upload across processes and instances.

A hold is a lease on the session's row (holder, token, expiry). The process renews every hold
it has in one UPDATE every third of the TTL, so a slow but live writer never loses it; a dead
process stops renewing and its holds expire after the TTL, when the next request takes over.
The holder itself stops writing once it has not renewed for half the TTL, well before anybody
else may take the session (clocks of the processes must roughly agree: NTP). Commits are
conditional on the token, so a request whose hold ended can never make its bytes count.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from registry.cluster.models import UploadSessionRow
from registry.content.upload_sessions import UploadBusy, UploadLockLost
from registry.db.database import Database
from registry.db.rows import col
from registry.db.session import Session
from registry.errors import Unavailable
from registry.tasks.models import utcnow

log = logging.getLogger("hth.uploads")

Row = UploadSessionRow


def process_holder() -> str:
    """A name for this process that no other process, here or elsewhere, ever has."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class DatabaseUploadSessions:
    """UploadSessions (registry.content.upload_sessions) in the shared database."""

    def __init__(self, db: Callable[[], Database], ttl: timedelta) -> None:
        self._db = db
        self.ttl = ttl
        self.holder = process_holder()
        self._held: dict[str, DatabaseHold] = {}
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def register(self, name: str, upload_id: str) -> None:
        row = Row(upload_id=upload_id, repository=name, token=0, size=0, created_at=utcnow())
        with _database_errors(), Session(self._db().engine) as session:
            session.add(row)
            session.commit()

    def acquire(self, name: str, upload_id: str) -> DatabaseHold:
        started = time.monotonic()
        with _database_errors():
            found = self._take(name, upload_id) or self._take_unrecorded(name, upload_id)
        if found is None:
            raise UploadBusy(name, upload_id, self.committed(name, upload_id))
        hold = DatabaseHold(self, upload_id, found[0], found[1], started)
        with self._lock:
            self._held[upload_id] = hold
        self._start_renewing()
        return hold

    def _take(self, name: str, upload_id: str) -> tuple[int, int | None] | None:
        """(token, committed size) when the recorded session was free and is now ours."""
        now = utcnow()
        mine = and_(col(Row.upload_id) == upload_id, col(Row.repository) == name)
        free = or_(col(Row.holder).is_(None), col(Row.expires_at) < now)
        take = (
            update(Row)
            .where(mine, free)
            .values(holder=self.holder, token=col(Row.token) + 1, expires_at=now + self.ttl)
            .returning(col(Row.token), col(Row.size))
        )
        with self._db().engine.begin() as connection:
            taken = connection.execute(take).first()
        return None if taken is None else (int(taken[0]), taken[1])

    def _take_unrecorded(self, name: str, upload_id: str) -> tuple[int, int | None] | None:
        """Hold a session that has no record (started before upgrading, or by Distribution):
        its size is whatever the storage holds. None when a record exists (it is busy)."""
        now = utcnow()
        row = Row(
            upload_id=upload_id,
            repository=name,
            holder=self.holder,
            token=1,
            expires_at=now + self.ttl,
            size=None,
            created_at=now,
        )
        with Session(self._db().engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                return None
        return 1, None

    def committed(self, name: str, upload_id: str) -> int | None:
        query = select(col(Row.size)).where(
            col(Row.upload_id) == upload_id, col(Row.repository) == name
        )
        with _database_errors(), self._db().engine.connect() as connection:
            return connection.execute(query).scalar()

    def forget(self, name: str, upload_id: str) -> None:
        query = delete(Row).where(col(Row.upload_id) == upload_id, col(Row.repository) == name)
        with _database_errors(), self._db().engine.begin() as connection:
            connection.execute(query)

    # --- used by holds -----------------------------------------------------------------------

    def _release(self, hold: DatabaseHold, size: int | None) -> None:
        """End the hold; with `size`, commit it in the same UPDATE (fenced by the token:
        UploadLockLost when the hold had ended before)."""
        with self._lock:
            if self._held.get(hold.upload_id) is hold:
                del self._held[hold.upload_id]
        values: dict[str, object] = {"holder": None, "expires_at": None}
        if size is not None:
            values["size"] = size
        query = (
            update(Row)
            .where(col(Row.upload_id) == hold.upload_id, col(Row.holder) == self.holder)
            .where(col(Row.token) == hold.token)
            .values(**values)
        )
        try:
            with _database_errors(), self._db().engine.begin() as connection:
                released = connection.execute(query).rowcount == 1
        except Unavailable:
            if size is not None:
                raise
            log.warning("cannot release upload %s: it expires by itself", hold.upload_id)
            return
        if size is not None and not released:
            raise UploadLockLost()

    # --- renewal ------------------------------------------------------------------------------

    def _start_renewing(self) -> None:
        with self._lock:
            if self._renewer is not None and self._renewer.is_alive():
                return
            self._renewer = threading.Thread(
                target=_renew_forever, args=(weakref.ref(self),), name="upload-locks", daemon=True
            )
            self._renewer.start()

    def renew(self) -> None:
        """Extend every hold of this process (one UPDATE); holds the row no longer names us
        for are marked lost."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        started = time.monotonic()
        query = (
            update(Row)
            .where(col(Row.upload_id).in_(list(held)), col(Row.holder) == self.holder)
            .values(expires_at=utcnow() + self.ttl)
        )
        ours = select(col(Row.upload_id), col(Row.token)).where(
            col(Row.upload_id).in_(list(held)), col(Row.holder) == self.holder
        )
        with self._db().engine.begin() as connection:
            connection.execute(query)
            still = dict(connection.execute(ours).tuples().all())
        for upload_id, hold in held.items():
            if still.get(upload_id) == hold.token:
                hold.renewed(started)
            else:
                hold.lost = True


def forget_sessions_before(db: Database, before: datetime) -> int:
    """Drop the records of sessions created before `before` that nobody holds now (the upload
    purge deletes their data); returns how many went."""
    now = utcnow()
    unheld = or_(col(Row.holder).is_(None), col(Row.expires_at) < now)
    query = delete(Row).where(col(Row.created_at) < before, unheld)
    with db.engine.begin() as connection:
        return int(connection.execute(query).rowcount)


def _renew_forever(ref: weakref.ref[DatabaseUploadSessions]) -> None:
    while (sessions := ref()) is not None:
        interval = sessions.ttl.total_seconds() / 3
        try:
            sessions.renew()
        except SQLAlchemyError as exc:  # holds run out by themselves if this goes on
            log.warning("cannot renew upload locks: %s", exc)
        del sessions
        time.sleep(interval)


class DatabaseHold:
    """One request's hold; valid for half the TTL after its last renewal."""

    def __init__(
        self,
        sessions: DatabaseUploadSessions,
        upload_id: str,
        token: int,
        committed: int | None,
        started: float,
    ) -> None:
        self._sessions = sessions
        self.upload_id = upload_id
        self.token = token
        self._committed = committed
        self._valid_until = started + sessions.ttl.total_seconds() / 2
        self._pending: int | None = None
        self.lost = False
        self._released = False

    @property
    def committed(self) -> int | None:
        return self._committed

    def renewed(self, at: float) -> None:
        self._valid_until = at + self._sessions.ttl.total_seconds() / 2

    def check(self) -> None:
        if self.lost or self._released or time.monotonic() > self._valid_until:
            self.lost = True
            raise UploadLockLost()

    def commit(self, size: int) -> None:
        """Take `size` as the session's new size; it is written when the hold is released,
        in the same fenced UPDATE."""
        self.check()
        self._pending = size

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._sessions._release(self, self._pending)


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database that is down answers 503 UNAVAILABLE (clients retry), never a 500."""
    try:
        yield
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise Unavailable("the registry database is unavailable", retry_after=5) from exc
