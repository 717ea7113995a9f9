"""/api/v1/instances: the registry instances (servers) of the cluster with their HTTP worker
processes, and stopping/starting them."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from registry.cluster import instances, leases
from registry.config import Settings
from registry.errors import RegistryError

router = APIRouter(prefix="/api/v1/instances", tags=["instances"], route_class=V1Route)


class InstanceNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "no such registry instance"


class ProcessOut(BaseModel):
    """One HTTP worker process of an instance."""

    pid: int
    live: bool
    state: Literal["serving", "readonly", "stopped"] | str
    inflight_writes: int
    lease_token: int
    config_generation: int
    detail: str
    started_at: datetime
    heartbeat_at: datetime


class InstanceOut(BaseModel):
    """One registry server; its values summarize its live worker processes."""

    id: str
    address: str
    live: bool
    # The least restrictive state of a live process: what the instance still admits.
    state: Literal["serving", "readonly", "stopped"] | str
    admin_state: str
    inflight_writes: int  # summed over live processes
    lease_token: int  # acknowledged by every live process
    config_generation: int  # applied by every live process
    detail: str
    started_at: datetime
    heartbeat_at: datetime
    processes: int  # live HTTP worker processes
    process_detail: list[ProcessOut]  # every process still recorded, live or not

    @classmethod
    def of(cls, view: instances.InstanceView) -> InstanceOut:
        summary = {f.name: getattr(view, f.name) for f in fields(view) if f.name != "processes"}
        return cls(
            **summary,
            processes=len(view.live_processes),
            process_detail=[ProcessOut(**vars(process)) for process in view.processes],
        )


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


def instance_ttl(settings: Settings) -> timedelta:
    return settings.cluster.instance_ttl


@router.get("", responses=error_responses(503))
async def list_instances(db: DbDep, settings: SettingsDep) -> ClusterOut:
    """Every instance that heartbeats (dead ones shown with live=false) and the storage lease."""

    def read() -> ClusterOut:
        lease = leases.current(db)
        return ClusterOut(
            instances=[InstanceOut.of(v) for v in instances.instances(db, instance_ttl(settings))],
            storage_lease=LeaseOut(**vars(lease)) if lease else None,
        )

    return await run_in_threadpool(read)


@router.get("/{instance_id:path}", responses=error_responses(404, 503))
async def get_instance(instance_id: str, db: DbDep, settings: SettingsDep) -> InstanceOut:
    """One instance with each of its HTTP worker processes."""
    try:
        view = await run_in_threadpool(instances.instance, db, instance_id, instance_ttl(settings))
    except instances.UnknownInstance as exc:
        raise InstanceNotFound(str(exc)) from None
    return InstanceOut.of(view)


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
