"""Tables of the cluster (registry/db/rows.py): registry instances and their HTTP worker
processes, the named storage leases and the upload sessions being written.

The schema is owned by the Alembic migrations in `registry/db/migrations/versions/`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column

from registry.db.rows import Field, Row
from registry.tasks.models import utc_time, utc_time_or_none


class Heartbeat(Row):
    """What a heartbeat reports: the fields an instance row and a process row share."""

    # What the process (or instance) does now: serving | readonly | stopped.
    state: str = Field(max_length=16)
    inflight_writes: int = 0
    # The storage lease token whose mode it has applied and drained its own writes for.
    lease_token: int = 0
    config_generation: int = 0
    detail: str = Field(default="", max_length=1024)
    started_at: datetime = utc_time()
    heartbeat_at: datetime = utc_time()


class InstanceRow(Heartbeat, table=True):
    """One registry server (`hth-ctl run registry`, a container): what an operator counts.

    Its Heartbeat fields summarize its live processes as of the newest beat; readers summarize
    `instance_processes` themselves (fresher). A row without process rows was written by a
    registry older than revision 0007: it is that single process's own values.
    """

    __tablename__ = "instances"

    id: str = Field(primary_key=True, max_length=255)  # "<host>:<port>/<server pid>"
    address: str = Field(max_length=255)
    # What an operator asked for with `hth-ctl stop|start docker_registry`: every process obeys.
    admin_state: str = Field(default="serving", max_length=16)


class InstanceProcessRow(Heartbeat, table=True):
    """One HTTP worker process of an instance; written by its own heartbeat only."""

    __tablename__ = "instance_processes"

    instance_id: str = Field(primary_key=True, max_length=255)
    pid: int = Field(primary_key=True)


class LeaseRow(Row, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str | None = Field(default=None, max_length=255)
    # readonly | stop: what instances refuse; shared: nothing refused, only excludes GC.
    mode: str = Field(default="readonly", max_length=16)
    # Grows with every acquisition: instances acknowledge a token, not a holder.
    token: int = 0
    acquired_at: datetime = utc_time()
    expires_at: datetime = utc_time()


class UploadSessionRow(Row, table=True):
    """One chunked upload: which request writes it now (a lease) and what it has committed."""

    __tablename__ = "upload_sessions"

    upload_id: str = Field(primary_key=True, max_length=36)
    repository: str = Field(max_length=255)
    # The process writing the upload now; None (or an expired lease) when nobody is.
    holder: str | None = Field(default=None, max_length=255, index=True)
    # Grows with every acquisition: a request commits only under the token it took.
    token: int = 0
    expires_at: datetime | None = utc_time_or_none()
    # Bytes of the upload that successful requests have written and hashed; None: unknown
    # (an upload this registry did not start), taken from the storage when next resumed.
    size: int | None = Field(default=None, sa_column=Column(BigInteger()))
    created_at: datetime = utc_time()


class GCRunRow(Row, table=True):
    """One online garbage collection (docs/gc.md, "Online GC"): its id is the storage lease
    token the GC task holds; its phase and counts are what status and /ui/ show."""

    __tablename__ = "gc_runs"

    run: int = Field(primary_key=True)
    task_id: str = Field(max_length=64)
    phase: str = Field(default="waiting for registry instances", max_length=64)
    # Keys the sweep left in place because a write touched them during the run.
    kept_by_writes: int = 0
    started_at: datetime = utc_time()
    updated_at: datetime = utc_time()
    finished_at: datetime | None = utc_time_or_none()


class GCTouchRow(Row, table=True):
    """A write (or a blob read answering 200) used `key` while online GC run `run` was
    active, or before it (`used_at`): the sweep of that run keeps it. Keys: a digest,
    `repository:<name>`, `upload:<id>`."""

    __tablename__ = "gc_touches"

    run: int = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=320)
    # None: used during the run, or by a request still in flight when its instance learnt
    # of the run (always kept); else when it was used before (kept within the window).
    used_at: datetime | None = utc_time_or_none()


class GCDeletingRow(Row, table=True):
    """The sweep of run `run` is deleting `key` now; writers using the key wait until the row
    is gone or expired (a dead worker's rows are void after `expires_at`)."""

    __tablename__ = "gc_deleting"

    key: str = Field(primary_key=True, max_length=320)
    run: int = Field(primary_key=True)
    expires_at: datetime = utc_time()
