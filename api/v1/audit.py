"""/api/v1/audit: who deleted what, ran which maintenance task (and how it ended), and
changed which permission, with time and source address; newest first, filtered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.v1.deps import DbDep
from api.v1.errors import V1Route, error_responses
from registry.audit import AuditQuery, AuditRow, list_events, task_outcomes
from registry.tasks.models import TaskRow

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=V1Route)


class Outcome(BaseModel):
    state: str
    error: str | None
    finished_at: datetime | None


class AuditEvent(BaseModel):
    id: int
    at: datetime
    actor: str
    source: str
    action: str
    target: str
    params: dict[str, Any]
    status: int = Field(description="the HTTP status answered (0: not an HTTP call)")
    task_id: str | None
    outcome: Outcome | None = Field(description="the task's state now, for task events")
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page")


def _event(row: AuditRow, tasks: dict[str, TaskRow]) -> AuditEvent:
    task = tasks.get(row.task_id) if row.task_id else None
    outcome = None
    if task is not None:
        outcome = Outcome(state=task.state, error=task.error, finished_at=task.finished_at)
    return AuditEvent(**row.model_dump(exclude={"id"}), id=row.id or 0, outcome=outcome)


def _utc(value: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("", responses=error_responses(400))
def list_all(
    db: DbDep,
    actor: str | None = None,
    action: Annotated[
        str | None, Query(description='exact, or a prefix ending in "." such as "task."')
    ] = None,
    target: Annotated[str | None, Query(description="prefix, e.g. a repository name")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> AuditPage:
    query = AuditQuery(actor, action, target, _utc(since), _utc(until), limit, cursor)
    rows, next_cursor = list_events(db, query)
    tasks = task_outcomes(db, [row.task_id for row in rows if row.task_id])
    return AuditPage(items=[_event(row, tasks) for row in rows], next_cursor=next_cursor)
