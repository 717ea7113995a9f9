"""/api/v1/instances: the registry instances of the cluster, and stopping/starting them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from registry.cluster import instances, leases
from registry.cluster.models import InstanceRow
from registry.content.errors import RegistryError
from registry.durations import parse_duration

router = APIRouter(prefix="/api/v1/instances", tags=["instances"], route_class=V1Route)


class InstanceNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "no such registry instance"


class InstanceOut(BaseModel):
    id: str
    address: str
    live: bool
    state: Literal["serving", "readonly", "stopped"] | str
    admin_state: str
    inflight_writes: int
    lease_token: int
    config_generation: int
    detail: str
    started_at: datetime
    heartbeat_at: datetime


class LeaseOut(BaseModel):
    holder: str
    mode: str
    token: int
    expires_at: datetime


class ClusterOut(BaseModel):
    instances: list[InstanceOut]
    storage_lease: LeaseOut | None


class StateChange(BaseModel):
    state: str
    instances: int


def _out(row: InstanceRow, live: set[str]) -> InstanceOut:
    return InstanceOut(**row.model_dump(), live=row.id in live)


@router.get("", responses=error_responses(503))
async def list_instances(db: DbDep, settings: SettingsDep) -> ClusterOut:
    """Every instance that heartbeats (dead ones shown with live=false) and the storage lease."""
    ttl = parse_duration(settings.cluster.instance_ttl)

    def read() -> ClusterOut:
        live = {row.id for row in instances.live_instances(db, ttl)}
        lease = leases.current(db)
        return ClusterOut(
            instances=[_out(row, live) for row in instances.instances(db)],
            storage_lease=LeaseOut(**vars(lease)) if lease else None,
        )

    return await run_in_threadpool(read)


async def _set_state(db: DbDep, state: str, instance_id: str | None) -> StateChange:
    try:
        count = await run_in_threadpool(instances.set_admin_state, db, state, instance_id)
    except instances.UnknownInstance as exc:
        raise InstanceNotFound(str(exc)) from None
    return StateChange(state=state, instances=count)


@router.post("/stop", responses=error_responses(503))
async def stop_all(db: DbDep) -> StateChange:
    """Stop every instance (each answers 503 UNAVAILABLE until started again)."""
    return await _set_state(db, "stopped", None)


@router.post("/start", responses=error_responses(503))
async def start_all(db: DbDep) -> StateChange:
    """Let every instance serve again (a live storage lease still applies)."""
    return await _set_state(db, "serving", None)


@router.post("/{instance_id:path}/stop", responses=error_responses(404, 503))
async def stop_one(instance_id: str, db: DbDep) -> StateChange:
    return await _set_state(db, "stopped", instance_id)


@router.post("/{instance_id:path}/start", responses=error_responses(404, 503))
async def start_one(instance_id: str, db: DbDep) -> StateChange:
    return await _set_state(db, "serving", instance_id)
