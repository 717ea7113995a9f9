"""Creating, reading and listing task records (state changes live in transitions.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update

from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session
from registry.tasks.errors import InvalidCursor, TaskNotFound
from registry.tasks.ids import is_id, new_id
from registry.tasks.models import TaskRow, utcnow
from registry.tasks.states import UNFINISHED, State, Trigger

LOG_LIMIT = 1_000_000  # characters of log kept per task; later lines are dropped


@dataclass(frozen=True)
class NewTask:
    kind: str
    params: dict[str, Any]
    trigger: Trigger
    max_attempts: int
    schedule_id: str | None = None
    scheduled_for: datetime | None = None
    retry_of: str | None = None


def create_task(db: Database, new: NewTask) -> TaskRow:
    """Write a queued record; its message is sent afterwards (sent_at stays None until then)."""
    now = utcnow()
    row = TaskRow(
        id=new_id(),
        kind=new.kind,
        params=new.params,
        state=State.QUEUED,
        trigger=new.trigger,
        max_attempts=new.max_attempts,
        celery_id=new_id(),
        schedule_id=new.schedule_id,
        scheduled_for=new.scheduled_for,
        retry_of=new.retry_of,
        created_at=now,
        updated_at=now,
    )
    with Session(db.engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row


def get_task(db: Database, task_id: str) -> TaskRow:
    row = find_task(db, task_id)
    if row is None:
        raise TaskNotFound(f"task {task_id} not found")
    return row


def find_task(db: Database, task_id: str) -> TaskRow | None:
    with Session(db.engine, expire_on_commit=False) as session:
        return session.get(TaskRow, task_id)


def list_tasks(
    db: Database,
    *,
    kind: str | None = None,
    state: State | None = None,
    schedule_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[TaskRow], str | None]:
    """Newest first; the cursor is the id of the last task of the previous page."""
    query = select(TaskRow).order_by(col(TaskRow.id).desc()).limit(limit + 1)
    if kind:
        query = query.where(col(TaskRow.kind) == kind)
    if state:
        query = query.where(col(TaskRow.state) == state)
    if schedule_id:
        query = query.where(col(TaskRow.schedule_id) == schedule_id)
    if cursor is not None:
        if not is_id(cursor):
            raise InvalidCursor(f"invalid cursor {cursor!r}: use next_cursor from a listing")
        query = query.where(col(TaskRow.id) < cursor)
    with Session(db.engine, expire_on_commit=False) as session:
        rows = list(session.exec(query).all())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def unfinished_of_schedule(db: Database, schedule_id: str) -> TaskRow | None:
    query = (
        select(TaskRow)
        .where(col(TaskRow.schedule_id) == schedule_id, col(TaskRow.state).in_(UNFINISHED))
        .limit(1)
    )
    with Session(db.engine, expire_on_commit=False) as session:
        return session.exec(query).first()


def with_line(*messages: str) -> Any:
    """The SQL value of the log with more timestamped lines (for an UPDATE's values)."""
    stamp = utcnow().isoformat(timespec="milliseconds")
    return col(TaskRow.log) + "".join(f"{stamp} {message.rstrip()}\n" for message in messages)


def append_log(db: Database, task_id: str, message: str, attempt: int | None = None) -> None:
    """Append a timestamped line; with `attempt`, only while that attempt owns the task."""
    stmt = (
        update(TaskRow)
        .where(col(TaskRow.id) == task_id)
        .where(func.length(col(TaskRow.log)) < LOG_LIMIT)
        .values(log=with_line(message))
    )
    if attempt is not None:
        stmt = stmt.where(col(TaskRow.attempts) == attempt)
    with db.engine.begin() as connection:
        connection.execute(stmt)


def silent_since(db: Database, before: datetime) -> list[TaskRow]:
    """Tasks held by a worker whose heartbeat stopped before `before`."""
    query = select(TaskRow).where(
        col(TaskRow.state).in_([State.RUNNING, State.CANCELLING]),
        col(TaskRow.heartbeat_at) < before,
    )
    with Session(db.engine, expire_on_commit=False) as session:
        return list(session.exec(query.limit(500)).all())


def unsent_since(db: Database, before: datetime) -> list[TaskRow]:
    """Waiting tasks whose message never reached the broker (last changed before `before`)."""
    query = select(TaskRow).where(
        col(TaskRow.state).in_([State.QUEUED, State.RETRYING]),
        col(TaskRow.sent_at).is_(None),
        col(TaskRow.updated_at) < before,
    )
    with Session(db.engine, expire_on_commit=False) as session:
        return list(session.exec(query.limit(500)).all())


def unstarted_since(db: Database, sent_before: datetime, due_before: datetime) -> list[TaskRow]:
    """Waiting tasks whose message reached the broker but that no worker started: queued
    tasks sent before `sent_before`, retries that were due before `due_before`."""
    queued = (col(TaskRow.state) == State.QUEUED) & (col(TaskRow.sent_at) < sent_before)
    overdue = (col(TaskRow.state) == State.RETRYING) & (col(TaskRow.retry_at) < due_before)
    query = select(TaskRow).where(col(TaskRow.sent_at).is_not(None), queued | overdue)
    with Session(db.engine, expire_on_commit=False) as session:
        return list(session.exec(query.order_by(col(TaskRow.id)).limit(500)).all())


def unfinished_of_kinds(db: Database, kinds: Iterable[str]) -> TaskRow | None:
    """The oldest unfinished task of any of `kinds`, if there is one."""
    with Session(db.engine, expire_on_commit=False) as session:
        stmt = (
            select(TaskRow)
            .where(col(TaskRow.kind).in_(list(kinds)), col(TaskRow.state).in_(UNFINISHED))
            .order_by(col(TaskRow.created_at))
            .limit(1)
        )
        return session.exec(stmt).first()
