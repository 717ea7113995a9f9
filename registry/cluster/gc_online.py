"""Online GC's shared state in the database: runs, touches and deleting marks (docs/gc.md).

Writers record a touch (run, key) and commit, then look for a live deleting mark on the key;
the sweeper records a deleting mark and commits, then looks for a touch. Each side commits its
row before reading the other's, so one of them always sees the other (the proof is in
docs/gc.md, "Online GC"). Every statement runs in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update

from registry.cluster.models import GCDeletingRow, GCRunRow, GCTouchRow
from registry.db.database import Database, insert_on_conflict
from registry.db.rows import col
from registry.tasks.models import utcnow

# Keys per statement: well under SQLite's limit on bound parameters.
_BATCH = 400


def _batches(keys: Collection[str]) -> list[list[str]]:
    ordered = sorted(set(keys))
    return [ordered[i : i + _BATCH] for i in range(0, len(ordered), _BATCH)]


def _insert_ignoring_duplicates(
    connection: Connection,
    table: type[Any],
    rows: list[dict[str, Any]],
    update: dict[str, Any] | None = None,
) -> None:
    """Insert `rows`; an existing row is left alone, or given the values `update`."""
    if not rows:
        return
    insert = insert_on_conflict(table, connection.dialect.name)
    keys = [column.name for column in table.__table__.primary_key]
    # One statement executed for every row (executemany): compiling a multi-row VALUES
    # costs more than the database's work.
    if update:
        connection.execute(insert.on_conflict_do_update(index_elements=keys, set_=update), rows)
    else:
        connection.execute(insert.on_conflict_do_nothing(), rows)


# --- the writer's side -----------------------------------------------------------------------


def record_touches(db: Database, run: int, keys: Collection[str]) -> None:
    """Commit that `keys` are used during run `run` (idempotent): the sweep keeps them."""
    for batch in _batches(keys):
        with db.engine.begin() as connection:
            rows = [{"run": run, "key": key, "used_at": None} for key in batch]
            _insert_ignoring_duplicates(connection, GCTouchRow, rows, {"used_at": None})


def record_earlier_uses(db: Database, run: int, used: Mapping[str, datetime | None]) -> None:
    """Commit keys used before the run's instance learnt of it (None: by a request still in
    flight then, kept like a touch). A row keeps the most protective value any process gave:
    None over a time, a later time over an earlier one."""
    record_touches(db, run, [key for key, at in used.items() if at is None])
    timed = {key: at for key, at in used.items() if at is not None}
    for batch in _batches(timed):
        with db.engine.begin() as connection:
            rows = [{"run": run, "key": key, "used_at": timed[key]} for key in batch]
            insert = insert_on_conflict(GCTouchRow, connection.dialect.name).values(rows)
            later = insert.excluded.used_at
            existing = col(GCTouchRow.used_at)
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["run", "key"],
                    set_={"used_at": later},
                    where=and_(existing.is_not(None), existing < later),
                )
            )


def deleting_now(db: Database, keys: Collection[str]) -> set[str]:
    """Keys some sweep marked as being deleted, with a mark that has not expired."""
    found: set[str] = set()
    now = utcnow()
    for batch in _batches(keys):
        query = select(col(GCDeletingRow.key)).where(
            col(GCDeletingRow.key).in_(batch), col(GCDeletingRow.expires_at) > now
        )
        with db.engine.connect() as connection:
            found.update(connection.execute(query).scalars())
    return found


# --- the sweeper's side ----------------------------------------------------------------------


def mark_deleting(db: Database, run: int, keys: Collection[str], ttl: timedelta) -> None:
    """Commit deleting marks for `keys`, void `ttl` from now (one transaction)."""
    expires_at = utcnow() + ttl
    with db.engine.begin() as connection:
        for batch in _batches(keys):
            rows = [{"key": key, "run": run, "expires_at": expires_at} for key in batch]
            _insert_ignoring_duplicates(connection, GCDeletingRow, rows)


def touched(db: Database, run: int, keys: Collection[str], since: datetime) -> set[str]:
    """Which of `keys` requests used during run `run`, or before it but after `since`."""
    found: set[str] = set()
    recent = or_(col(GCTouchRow.used_at).is_(None), col(GCTouchRow.used_at) >= since)
    with db.engine.connect() as connection:
        for batch in _batches(keys):
            query = select(col(GCTouchRow.key)).where(
                col(GCTouchRow.run) == run, col(GCTouchRow.key).in_(batch), recent
            )
            found.update(connection.execute(query).scalars())
    return found


def unmark_deleting(db: Database, run: int, keys: Collection[str]) -> None:
    with db.engine.begin() as connection:
        for batch in _batches(keys):
            query = delete(GCDeletingRow).where(
                col(GCDeletingRow.run) == run, col(GCDeletingRow.key).in_(batch)
            )
            connection.execute(query)


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GCRun:
    run: int
    task_id: str
    phase: str
    kept_by_writes: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def start_run(db: Database, run: int, task_id: str) -> None:
    """Record run `run` and forget every other run's touches and deleting marks: those runs
    are over (the storage lease is exclusive), so their rows protect nothing any more."""
    now = utcnow()
    with db.engine.begin() as connection:
        connection.execute(delete(GCTouchRow).where(col(GCTouchRow.run) != run))
        connection.execute(delete(GCDeletingRow).where(col(GCDeletingRow.run) != run))
        connection.execute(delete(GCRunRow).where(col(GCRunRow.run) == run))
        connection.execute(
            GCRunRow.__table__.insert().values(
                run=run,
                task_id=task_id,
                phase="waiting for registry instances",
                kept_by_writes=0,
                started_at=now,
                updated_at=now,
            )
        )


def update_run(
    db: Database, run: int, *, phase: str | None = None, kept_by_writes: int | None = None
) -> None:
    values: dict[str, Any] = {"updated_at": utcnow()}
    if phase is not None:
        values["phase"] = phase[:64]
    if kept_by_writes is not None:
        values["kept_by_writes"] = kept_by_writes
    with db.engine.begin() as connection:
        connection.execute(update(GCRunRow).where(col(GCRunRow.run) == run).values(**values))


def finish_run(db: Database, run: int, phase: str) -> None:
    """The run ended (`phase`: done, failed, cancelled); its touches go with the next run."""
    now = utcnow()
    stmt = (
        update(GCRunRow)
        .where(col(GCRunRow.run) == run)
        .values(phase=phase[:64], updated_at=now, finished_at=now)
    )
    with db.engine.begin() as connection:
        connection.execute(stmt)
        connection.execute(delete(GCDeletingRow).where(col(GCDeletingRow.run) == run))


def latest_run(db: Database) -> GCRun | None:
    """The newest online GC run, running or finished."""
    query = select(GCRunRow).order_by(col(GCRunRow.run).desc()).limit(1)
    with db.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    values = row._mapping
    return GCRun(**{name: values[name] for name in GCRun.__dataclass_fields__})
