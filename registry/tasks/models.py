"""Tables (registry/db/rows.py): tasks, schedules and the named locks beat elects its leader with.

The schema itself is owned by the Alembic migrations in `migrations/versions/`; a change
here needs a new migration there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from registry.db.rows import Field, Row


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_time() -> Any:
    """The field of a UTC time every row has (a column of its own for each table)."""
    return Field(sa_column=Column(UTCDateTime(), nullable=False))


def utc_time_or_none() -> Any:
    """The field of a UTC time a row may lack: None until set."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class TaskRow(Row, table=True):
    __tablename__ = "tasks"

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(index=True, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(index=True, max_length=16)
    trigger: str = Field(max_length=16)
    attempts: int = 0
    max_attempts: int = 1
    progress: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))
    log: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The id of the Celery message that may run this task now; any other message is stale.
    celery_id: str = Field(max_length=64)
    worker: str | None = Field(default=None, max_length=255)
    schedule_id: str | None = Field(default=None, index=True, max_length=36)
    retry_of: str | None = Field(default=None, max_length=36)
    created_at: datetime = utc_time()
    updated_at: datetime = utc_time()
    # None: the message has not reached the broker yet.
    sent_at: datetime | None = utc_time_or_none()
    started_at: datetime | None = utc_time_or_none()
    finished_at: datetime | None = utc_time_or_none()
    heartbeat_at: datetime | None = utc_time_or_none()
    retry_at: datetime | None = utc_time_or_none()
    scheduled_for: datetime | None = utc_time_or_none()


class ScheduleRow(Row, table=True):
    __tablename__ = "schedules"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cron: str = Field(max_length=128)
    enabled: bool = True
    created_at: datetime = utc_time()
    updated_at: datetime = utc_time()
    # Computed by beat; reset to None by an edit so that beat recomputes it.
    next_run_at: datetime | None = utc_time_or_none()
    last_run_at: datetime | None = utc_time_or_none()
    last_task_id: str | None = Field(default=None, max_length=36)


class LockRow(Row, table=True):
    __tablename__ = "locks"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=255)
    # Grows with every change of holder: a fencing token for whoever holds the lock.
    token: int = 0
    expires_at: datetime = utc_time()
