"""/api/v1/retention-policies: stored retention policies and their runs (docs/retention.md).
400 for a policy that cannot work, 422 for a body not of the contract's shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from api.v1.bodies import RequestBody
from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from api.v1.task_schemas import TaskOut
from registry.maintenance.retention_compile import compile_policy
from registry.tasks import retention
from registry.tasks.params import POLICY_NAME_PATTERN
from registry.tasks.retention import RetentionPolicyRow
from registry.tasks.retention_policy import InvalidPolicy, PolicyPatch, PolicySpec, patched
from registry.tasks.states import Trigger
from worker.client import enqueue

router = APIRouter(prefix="/api/v1/retention-policies", tags=["retention"], route_class=V1Route)
NameParam = Annotated[str, Path(pattern=POLICY_NAME_PATTERN, max_length=63)]


class PolicyOut(PolicySpec):
    schedule_id: str | None  # the schedule `retention-<name>` while `cron` is set
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: RetentionPolicyRow) -> PolicyOut:
        spec = row.spec
        schedule = retention.schedule_id(spec.name) if spec.cron else None
        return cls(
            **spec.model_dump(),
            schedule_id=schedule,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class PolicyList(BaseModel):
    items: list[PolicyOut]


class RunRequest(RequestBody):
    dry_run: bool = False
    trigger: Literal["api", "cli"] = "api"


@router.get("")
def list_all(db: DbDep) -> PolicyList:
    """Every policy, by name."""
    return PolicyList(items=[PolicyOut.of(row) for row in retention.list_policies(db)])


@router.post("", status_code=201, responses=error_responses(400, 409, 422))
def create(body: PolicySpec, response: Response, db: DbDep, settings: SettingsDep) -> PolicyOut:
    compile_policy(body)  # 400 when what it selects or keeps cannot work
    row = retention.create_policy(db, body, allow_seconds=settings.scheduler.cron_seconds)
    response.headers["Location"] = f"/api/v1/retention-policies/{row.name}"
    return PolicyOut.of(row)


@router.get("/{name}", responses=error_responses(404, 422))
def show(name: NameParam, db: DbDep) -> PolicyOut:
    return PolicyOut.of(retention.get_policy(db, name))


@router.put("/{name}", responses=error_responses(400, 404, 422))
def replace(name: NameParam, body: PolicySpec, db: DbDep, settings: SettingsDep) -> PolicyOut:
    """Replace the policy (its schedule follows `cron` and `enabled`)."""
    if body.name != name:
        raise InvalidPolicy(f"name: {body.name!r} differs from the policy's name {name!r}")
    compile_policy(body)
    row = retention.replace_policy(db, body, allow_seconds=settings.scheduler.cron_seconds)
    return PolicyOut.of(row)


@router.patch("/{name}", responses=error_responses(400, 404, 422))
def change(name: NameParam, body: PolicyPatch, db: DbDep, settings: SettingsDep) -> PolicyOut:
    """Change the fields given; null clears an optional field (a keep field, `cron`)."""
    spec = patched(retention.get_policy(db, name).spec, body)
    compile_policy(spec)
    row = retention.replace_policy(db, spec, allow_seconds=settings.scheduler.cron_seconds)
    return PolicyOut.of(row)


@router.delete("/{name}", status_code=204, responses=error_responses(404, 422))
def delete(name: NameParam, db: DbDep) -> Response:
    """Delete the policy and its schedule (tasks it ran stay)."""
    retention.delete_policy(db, name)
    return Response(status_code=204)


@router.post("/{name}/run", status_code=202, responses=error_responses(404, 422, 503))
def run(
    name: NameParam,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    body: RunRequest | None = None,
) -> TaskOut:
    """Run the policy now as a `retention` task (`dry_run`: report, change nothing)."""
    retention.get_policy(db, name)  # 404 before a task that could only fail
    body = body or RunRequest()
    params = {"policy": name, "dry_run": body.dry_run}
    row = enqueue(db, settings, "retention", params, Trigger(body.trigger))
    response.headers["Location"] = f"/api/v1/tasks/{row.id}"
    return TaskOut.of(row)
