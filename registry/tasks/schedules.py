"""Schedule records: `{kind, params, cron, enabled}`, cron in UTC with 5 fields.

Beat computes `next_run_at`; every change of it is guarded on the value beat read (and on
`updated_at`, which only edits change), so two beats never fire the same occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, update

from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session, find_row, get_row
from registry.tasks.errors import IllegalTransition, InvalidCron, InvalidCursor, ScheduleNotFound
from registry.tasks.ids import new_id
from registry.tasks.kinds import validate_params
from registry.tasks.models import ScheduleRow, utcnow


@dataclass(frozen=True)
class ScheduleSpec:
    kind: str
    params: dict[str, Any]
    cron: str
    enabled: bool = True


def check_cron(cron: str, allow_seconds: bool = False) -> str:
    """The expression with single spaces; 422 unless it is 5 valid fields (6 if allowed)."""
    fields = cron.split()
    counts = (5, 6) if allow_seconds else (5,)
    if len(fields) not in counts:
        raise InvalidCron(
            f"cron {cron!r}: expected 5 fields (minute hour day-of-month month day-of-week, UTC)"
        )
    normalized = " ".join(fields)
    from croniter import croniter  # here: a registry process seldom reads a schedule

    if not croniter.is_valid(normalized):
        raise InvalidCron(f"cron {cron!r}: not a valid cron expression")
    return normalized


def next_fire(cron: str, after: datetime) -> datetime:
    """The first occurrence strictly after `after`, in UTC."""
    from croniter import croniter

    moment: datetime = croniter(cron, after.astimezone(UTC)).get_next(datetime)
    return moment.astimezone(UTC)


def _validated(spec: ScheduleSpec, allow_seconds: bool) -> ScheduleSpec:
    params = validate_params(spec.kind, spec.params)
    return ScheduleSpec(spec.kind, params, check_cron(spec.cron, allow_seconds), spec.enabled)


def create_schedule(
    db: Database, spec: ScheduleSpec, *, allow_seconds: bool = False, schedule_id: str | None = None
) -> ScheduleRow:
    spec = _validated(spec, allow_seconds)
    now = utcnow()
    row = ScheduleRow(
        id=schedule_id or new_id(),
        kind=spec.kind,
        params=spec.params,
        cron=spec.cron,
        enabled=spec.enabled,
        created_at=now,
        updated_at=now,
    )
    with Session(db.engine, expire_on_commit=False) as session:
        if schedule_id and session.get(ScheduleRow, schedule_id):
            raise IllegalTransition(f"schedule {schedule_id} already exists")
        session.add(row)
        session.commit()
    return row


def find_schedule(db: Database, schedule_id: str) -> ScheduleRow | None:
    return find_row(db, ScheduleRow, schedule_id)


def get_schedule(db: Database, schedule_id: str) -> ScheduleRow:
    return get_row(db, ScheduleRow, schedule_id, _not_found(schedule_id))


def list_schedules(
    db: Database, *, limit: int = 50, cursor: str | None = None, enabled_only: bool = False
) -> tuple[list[ScheduleRow], str | None]:
    query = select(ScheduleRow).order_by(col(ScheduleRow.id)).limit(limit + 1)
    if cursor is not None:
        if not cursor or len(cursor) > 64:
            raise InvalidCursor(f"invalid cursor {cursor!r}: use next_cursor from a listing")
        query = query.where(col(ScheduleRow.id) > cursor)
    if enabled_only:
        query = query.where(col(ScheduleRow.enabled).is_(True))
    with Session(db.engine, expire_on_commit=False) as session:
        rows = list(session.exec(query).all())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def update_schedule(
    db: Database, schedule_id: str, spec: ScheduleSpec, *, allow_seconds: bool = False
) -> ScheduleRow:
    """Replace the schedule; beat recomputes its next run on its next tick."""
    spec = _validated(spec, allow_seconds)
    values = {
        "kind": spec.kind,
        "params": spec.params,
        "cron": spec.cron,
        "enabled": spec.enabled,
        "next_run_at": None,
        "updated_at": utcnow(),
    }
    stmt = update(ScheduleRow).where(col(ScheduleRow.id) == schedule_id).values(**values)
    with db.engine.begin() as connection:
        if connection.execute(stmt).rowcount != 1:
            raise _not_found(schedule_id)
    return get_schedule(db, schedule_id)


def delete_schedule(db: Database, schedule_id: str) -> None:
    with Session(db.engine) as session:
        row = session.require(ScheduleRow, schedule_id, _not_found(schedule_id))
        session.delete(row)
        session.commit()


def _as_read(row: ScheduleRow) -> tuple[ColumnElement[bool], ...]:
    """Guards: the row is still what beat read (not edited, not advanced by another beat)."""
    planned = (
        col(ScheduleRow.next_run_at).is_(None)
        if row.next_run_at is None
        else col(ScheduleRow.next_run_at) == row.next_run_at
    )
    return (
        col(ScheduleRow.id) == row.id,
        col(ScheduleRow.updated_at) == row.updated_at,
        planned,
    )


def advance(db: Database, row: ScheduleRow, next_run_at: datetime, fired: bool) -> bool:
    """Move the schedule to its next run; True for the one beat whose view was current."""
    values: dict[str, Any] = {"next_run_at": next_run_at}
    if fired:
        values["last_run_at"] = row.next_run_at
    with db.engine.begin() as connection:
        stmt = update(ScheduleRow).where(*_as_read(row)).values(**values)
        return connection.execute(stmt).rowcount == 1


def record_task(db: Database, schedule_id: str, task_id: str) -> None:
    stmt = (
        update(ScheduleRow).where(col(ScheduleRow.id) == schedule_id).values(last_task_id=task_id)
    )
    with db.engine.begin() as connection:
        connection.execute(stmt)


def _not_found(schedule_id: str) -> ScheduleNotFound:
    return ScheduleNotFound(f"schedule {schedule_id} not found")
