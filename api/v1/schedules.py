"""/api/v1/schedules: periodic tasks (cron in UTC); beat picks up changes on its next tick."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from api.v1.task_schemas import ScheduleIn, ScheduleOut, SchedulePage
from registry.tasks import schedules
from registry.tasks.schedules import ScheduleSpec

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], route_class=V1Route)


def _spec(body: ScheduleIn) -> ScheduleSpec:
    return ScheduleSpec(body.kind, body.params, body.cron, body.enabled)


@router.get("", responses=error_responses(400))
def list_all(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> SchedulePage:
    rows, next_cursor = schedules.list_schedules(db, limit=limit, cursor=cursor)
    return SchedulePage(items=[ScheduleOut.of(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, responses=error_responses(422))
def create(body: ScheduleIn, response: Response, db: DbDep, settings: SettingsDep) -> ScheduleOut:
    allow_seconds = settings.scheduler.cron_seconds
    row = schedules.create_schedule(db, _spec(body), allow_seconds=allow_seconds)
    response.headers["Location"] = f"/api/v1/schedules/{row.id}"
    return ScheduleOut.of(row)


@router.get("/{schedule_id}", responses=error_responses(404))
def show(schedule_id: str, db: DbDep) -> ScheduleOut:
    return ScheduleOut.of(schedules.get_schedule(db, schedule_id))


@router.put("/{schedule_id}", responses=error_responses(404, 422))
def replace(schedule_id: str, body: ScheduleIn, db: DbDep, settings: SettingsDep) -> ScheduleOut:
    """Replace the schedule (disable it with `"enabled": false`)."""
    allow_seconds = settings.scheduler.cron_seconds
    row = schedules.update_schedule(db, schedule_id, _spec(body), allow_seconds=allow_seconds)
    return ScheduleOut.of(row)


@router.delete("/{schedule_id}", status_code=204, responses=error_responses(404))
def delete(schedule_id: str, db: DbDep) -> Response:
    schedules.delete_schedule(db, schedule_id)
    return Response(status_code=204)
