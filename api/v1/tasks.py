"""/api/v1/tasks: enqueue, list, inspect, cancel and retry maintenance tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from api.v1.task_schemas import TaskCreate, TaskOut, TaskPage
from registry.tasks.errors import IllegalTransition
from registry.tasks.records import get_task, list_tasks
from registry.tasks.states import State, Trigger
from registry.tasks.transitions import request_cancel
from worker.client import enqueue

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], route_class=V1Route)

RETRYABLE = (State.FAILED, State.CANCELLED)


def _location(response: Response, task_id: str) -> None:
    response.headers["Location"] = f"/api/v1/tasks/{task_id}"


@router.post("", status_code=202, responses=error_responses(422, 503))
def create_task(body: TaskCreate, response: Response, db: DbDep, settings: SettingsDep) -> TaskOut:
    """Enqueue a task; follow `Location` (or poll the record) to see it run."""
    row = enqueue(db, settings, body.kind, body.params, Trigger(body.trigger))
    _location(response, row.id)
    return TaskOut.of(row)


@router.get("", responses=error_responses(400))
def list_all(
    db: DbDep,
    kind: str | None = None,
    state: State | None = None,
    schedule: Annotated[str | None, Query(description="only tasks fired by it")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TaskPage:
    """Tasks, newest first; `next_cursor` is set while more pages follow."""
    rows, next_cursor = list_tasks(
        db, kind=kind, state=state, schedule_id=schedule, limit=limit, cursor=cursor
    )
    return TaskPage(items=[TaskOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get("/{task_id}", responses=error_responses(404))
def show(task_id: str, db: DbDep) -> TaskOut:
    return TaskOut.of(get_task(db, task_id))


@router.get("/{task_id}/log", response_class=PlainTextResponse, responses=error_responses(404))
def show_log(task_id: str, db: DbDep) -> str:
    """The task's log lines (text), growing while it runs."""
    return get_task(db, task_id).log


@router.post("/{task_id}/cancel", responses=error_responses(404, 409))
def cancel(task_id: str, response: Response, db: DbDep) -> TaskOut:
    """Cancel a waiting task (200, `cancelled`) or ask a running one to stop (202,
    `cancelling`, then `cancelled` at its next checkpoint). 409 once it has finished."""
    row = request_cancel(db, task_id)
    response.status_code = 202 if row.state == State.CANCELLING else 200
    return TaskOut.of(row)


@router.post("/{task_id}/retry", status_code=202, responses=error_responses(404, 409, 422))
def retry(task_id: str, response: Response, db: DbDep, settings: SettingsDep) -> TaskOut:
    """Run a failed or cancelled task again, as a new task with the same kind and params."""
    old = get_task(db, task_id)
    if old.state not in RETRYABLE:
        raise IllegalTransition(
            f"task {task_id} is {old.state}; only failed or cancelled tasks retry"
        )
    row = enqueue(db, settings, old.kind, old.params, Trigger.API, retry_of=old.id)
    _location(response, row.id)
    return TaskOut.of(row)
