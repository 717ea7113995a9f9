"""Request and response bodies of /api/v1/ tasks and schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.v1.bodies import RequestBody
from registry.tasks.models import ScheduleRow, TaskRow
from registry.tasks.states import State, Trigger


class TaskCreate(RequestBody):
    kind: str = Field(examples=["purge_uploads"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"dry_run": True}])
    trigger: Literal["api", "cli"] = "api"


class ProgressOut(BaseModel):
    phase: str
    done: int
    total: int | None
    note: str | None = None  # e.g. an online GC's "12 kept because writes used them"


class TaskOut(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    state: State
    trigger: Trigger
    attempts: int
    max_attempts: int
    progress: ProgressOut | None
    result: dict[str, Any] | None
    error: str | None
    celery_id: str
    worker: str | None
    schedule_id: str | None
    retry_of: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    retry_at: datetime | None
    scheduled_for: datetime | None

    @classmethod
    def of(cls, row: TaskRow) -> TaskOut:
        return cls.model_validate(row.model_dump(exclude={"log"}))


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class ScheduleIn(RequestBody):
    kind: str = Field(examples=["purge_uploads"])
    params: dict[str, Any] = Field(default_factory=dict)
    cron: str = Field(description="5 fields, in UTC", examples=["0 3 * * *"])
    enabled: bool = True


class ScheduleOut(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    cron: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_task_id: str | None

    @classmethod
    def of(cls, row: ScheduleRow) -> ScheduleOut:
        return cls.model_validate(row.model_dump())


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    next_cursor: str | None
