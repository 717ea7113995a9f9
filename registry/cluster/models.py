"""SQLModel tables of the cluster: registry instances and the named storage leases.

The schema is owned by the Alembic migrations in `registry/tasks/migrations/versions/`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from registry.tasks.models import UTCDateTime


class InstanceRow(SQLModel, table=True):
    __tablename__ = "instances"

    id: str = Field(primary_key=True, max_length=255)  # "<host>:<port>/<pid>"
    address: str = Field(max_length=255)
    # What the instance does now: serving | readonly | stopped.
    state: str = Field(max_length=16)
    # What an operator asked for with `hth-ctl stop|start docker_registry`.
    admin_state: str = Field(default="serving", max_length=16)
    inflight_writes: int = 0
    # The storage lease token whose mode this instance has applied and drained for.
    lease_token: int = 0
    config_generation: int = 0
    detail: str = Field(default="", max_length=1024)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    heartbeat_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LeaseRow(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str | None = Field(default=None, max_length=255)
    # readonly | stop: what instances refuse; shared: nothing refused, only excludes GC.
    mode: str = Field(default="readonly", max_length=16)
    # Grows with every acquisition: instances acknowledge a token, not a holder.
    token: int = 0
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
