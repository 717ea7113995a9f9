"""The audit log: deletes, maintenance tasks and permission changes, each with its actor,
time and source address. The API binds who is asking for the length of a request; code
below it (the enqueue path, say) records with that actor without being told."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.exc import SQLAlchemyError

from registry.db.database import Database
from registry.db.rows import Field, Row, col, select
from registry.db.session import Session
from registry.tasks.models import TaskRow, UTCDateTime, utcnow

log = logging.getLogger("hth.audit")

_SECRET_WORDS = ("password", "secret", "token", "key", "credential")


class AuditRow(Row, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str = Field(index=True, max_length=128)
    source: str = Field(default="", max_length=64)  # the client's address
    action: str = Field(index=True, max_length=64)  # e.g. manifest.delete, task.enqueue
    target: str = Field(default="", max_length=512)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: int = 0  # the HTTP status answered, 0 when not an HTTP call
    task_id: str | None = Field(default=None, index=True, max_length=36)
    request_id: str | None = Field(default=None, max_length=64)


@dataclass
class AuditContext:
    actor: str
    source: str = ""
    request_id: str | None = None
    recorded: bool = False  # something specific was recorded during this request


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "hth_audit_context", default=None
)


def bind(context: AuditContext) -> None:
    """Who is acting in this request (contexts copied into worker threads see it too)."""
    _context.set(context)


def current() -> AuditContext | None:
    return _context.get()


def masked(value: Any) -> Any:
    """Parameters as recorded: any key naming a secret shows "***"."""
    if isinstance(value, dict):
        return {
            key: "***" if any(w in str(key).lower() for w in _SECRET_WORDS) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def record(
    db: Database,
    action: str,
    target: str = "",
    params: dict[str, Any] | None = None,
    *,
    status: int = 0,
    task_id: str | None = None,
    actor: str | None = None,
) -> AuditRow:
    context = current()
    row = AuditRow(
        at=utcnow(),
        actor=actor or (context.actor if context else "system"),
        source=context.source if context else "",
        action=action,
        target=target[:512],
        params=masked(params or {}),
        status=status,
        task_id=task_id,
        request_id=context.request_id if context else None,
    )
    with Session(db.engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
    if context is not None:
        context.recorded = True
    return row


def record_quietly(db: Database, action: str, target: str = "", **kwargs: Any) -> None:
    """Record, logging (not raising) a database failure: the audited action already
    happened and its client must get its answer."""
    try:
        record(db, action, target, **kwargs)
    except SQLAlchemyError as exc:
        log.error("audit record %s %s not written: %s", action, target, exc)


def task_enqueued(db: Database, task: TaskRow) -> None:
    """Called by the one enqueue path: an API caller, else the scheduler or the system."""
    actor = None if current() else ("scheduler" if task.trigger == "schedule" else "system")
    params = {"kind": task.kind, "params": task.params, "trigger": task.trigger}
    if task.schedule_id:
        params["schedule_id"] = task.schedule_id
    if task.retry_of:
        params["retry_of"] = task.retry_of
    record_quietly(db, "task.enqueue", task.kind, params=params, task_id=task.id, actor=actor)


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "task.")
    target: str | None = None  # prefix
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: int | None = None  # the last id of the previous page


def list_events(db: Database, query: AuditQuery) -> tuple[list[AuditRow], int | None]:
    """Newest first; the cursor continues below the last id of the page."""
    statement = select(AuditRow).order_by(col(AuditRow.id).desc()).limit(query.limit + 1)
    if query.actor:
        statement = statement.where(col(AuditRow.actor) == query.actor)
    if query.action:
        if query.action.endswith("."):
            statement = statement.where(col(AuditRow.action).startswith(query.action))
        else:
            statement = statement.where(col(AuditRow.action) == query.action)
    if query.target:
        statement = statement.where(col(AuditRow.target).startswith(query.target))
    if query.since:
        statement = statement.where(col(AuditRow.at) >= query.since)
    if query.until:
        statement = statement.where(col(AuditRow.at) < query.until)
    if query.cursor is not None:
        statement = statement.where(col(AuditRow.id) < query.cursor)
    with Session(db.engine) as session:
        rows = list(session.exec(statement).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return rows, (rows[-1].id if more and rows else None)


def task_outcomes(db: Database, task_ids: list[str]) -> dict[str, TaskRow]:
    """The current record of each task an event names (its state is the outcome)."""
    if not task_ids:
        return {}
    with Session(db.engine) as session:
        rows = session.exec(select(TaskRow).where(col(TaskRow.id).in_(task_ids))).all()
    return {row.id: row for row in rows}
