"""The parameters of every task kind: what `POST /api/v1/tasks`, `hth-ctl` and beat validate
(registry/tasks/kinds.py holds each kind's model) and what its algorithm reads.

Light on purpose: pydantic and the duration type only, no algorithm, so that validating a
task's params does not load the code that runs it (docs/benchmarks.md, "Footprint"). Each
model forbids unknown keys and defaults every field it can; a 422 names `params.<field>`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from registry.durations import Duration, as_duration

# A point in time, UTC, stored as its ISO text ("2025-03-01T00:00:00+00:00").
UtcTime = Annotated[
    datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


def _absolute(path: str) -> str:
    if not os.path.isabs(path):
        raise ValueError("must be an absolute path (on the worker's machine)")
    return path


# A file on the worker's machine, named absolutely (the worker's working folder is not the
# caller's).
WorkerPath = Annotated[str, AfterValidator(_absolute)]


class PurgeUploadsParams(BaseModel):
    """Task parameters; each defaults to docker_registry.upload_purging in hth.json."""

    model_config = ConfigDict(extra="forbid")

    age: Duration | None = None  # "168h", or seconds
    dry_run: bool | None = None


class GCParams(BaseModel):
    """Task parameters of `kind: gc`; unset ones default to docker_registry.gc in hth.json."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    delete_untagged: bool | None = None
    grace_period: Duration | None = None  # "1h", "90s", or seconds: 0, 3600
    purge_uploads: bool = True
    remove_layer_links: bool = False
    # What registry instances refuse meanwhile: nothing (online: writes and the sweep agree
    # per blob), writes (readonly: pulls go on) or everything (stop).
    cluster_mode: Literal["online", "readonly", "stop"] | None = None


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=1, ge=0, le=100_000)
    step_seconds: float = Field(default=0.0, ge=0.0, le=60.0)
    # Fault injection: the first `fail_transient` attempts raise a transient storage error.
    fail_transient: int = Field(default=0, ge=0, le=100)
    # Fault injection: every attempt fails with a permanent error.
    fail_permanent: bool = False


class BackupParams(BaseModel):
    """Task parameters of `kind: backup`."""

    model_config = ConfigDict(extra="forbid")

    verify: bool = True  # re-hash every blob of the new backup once it is written
    prune: bool = True  # then apply docker_registry.backups.keep


class RestoreParams(BaseModel):
    """Task parameters of `kind: restore`: exactly one of `backup_id` and `file`."""

    model_config = ConfigDict(extra="forbid")

    backup_id: str | None = None
    file: WorkerPath | None = None  # an exported .tar.zst on the worker's machine
    keep_previous: bool = False  # keep the replaced tree beside the root instead of deleting it

    @model_validator(mode="after")
    def _one_source(self) -> RestoreParams:
        if (self.backup_id is None) == (self.file is None):
            raise ValueError("give exactly one of backup_id and file")
        return self


class BackupVerifyParams(BaseModel):
    """Task parameters of `kind: backup_verify`."""

    model_config = ConfigDict(extra="forbid")

    backup_id: str | None = None  # None: the latest backup


class BackupExportParams(BaseModel):
    """Task parameters of `kind: backup_export`."""

    model_config = ConfigDict(extra="forbid")

    file: WorkerPath  # where to write the archive, on the worker's machine
    backup_id: str | None = None  # None: the latest backup


class ReconfigureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # hth.json to apply; None: the file the worker itself was started with.
    file: str | None = None
    rollback: bool = False
    migrate: bool = False
    # How long to wait for every live instance to report the new generation.
    wait_timeout: Duration = Field(
        default=timedelta(seconds=60), gt=timedelta(0), le=timedelta(hours=1)
    )  # "90s", or seconds
    workers: int = Field(default=8, ge=1, le=64)

    @model_validator(mode="after")
    def _file_or_rollback(self) -> ReconfigureParams:
        if self.rollback and self.file is not None:
            raise ValueError("give either file or rollback, not both")
        return self


class BackupPruneParams(BaseModel):
    """Task parameters of `kind: backup_prune`."""

    model_config = ConfigDict(extra="forbid")

    keep: int | None = Field(default=None, ge=1)  # None: docker_registry.backups.keep


class VerifyStorageParams(BaseModel):
    """Task parameters of `kind: verify_storage`."""

    model_config = ConfigDict(extra="forbid")

    repair: bool = False  # move corrupt data into quarantine; without it, only report
    # Only blobs whose data was written at or after this: an ISO date or datetime (UTC
    # unless it says otherwise), or a duration back from the start of the run ("8d"), which
    # stays relative in a schedule; a JSON number is seconds back.
    since: Duration | UtcTime | None = None
    rate_limit: float | None = Field(default=None, gt=0)  # MB/s read, all threads together

    @field_validator("since", mode="before")
    @classmethod
    def _time_or_duration(cls, value: object) -> object:
        if value is None or isinstance(value, timedelta):
            return value
        if isinstance(value, datetime):
            return _as_utc(value)
        if not isinstance(value, str):
            return as_duration(value)  # a JSON number is seconds back
        try:
            return as_duration(value)
        except ValueError:
            pass
        try:
            return _as_utc(TypeAdapter(datetime).validate_python(value))
        except ValidationError:
            raise ValueError(
                f"{value!r} is neither an ISO date or datetime (2025-03-01, "
                "2025-03-01T12:00:00Z) nor a duration back from the run (8d, 36h)"
            ) from None

    def cutoff(self, now: datetime) -> datetime | None:
        """The time `since` names for a run starting at `now`."""
        if isinstance(self.since, timedelta):
            return now - self.since
        return self.since


def _as_utc(value: datetime) -> datetime:
    # A date, or a datetime without an offset, is UTC like every time in the platform.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UsageParams(BaseModel):
    """Task parameters of `kind: usage`: the GC options "would free" is computed with
    (unset: docker_registry.gc in hth.json, as a `gc` task would use)."""

    model_config = ConfigDict(extra="forbid")

    delete_untagged: bool | None = None
    grace_period: Duration | None = None
    # Size every blob with a `stat` rather than trusting the sizes manifests declare (which
    # the pushing client wrote): exact, at one more storage call per referenced blob.
    stat_blobs: bool = False


POLICY_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
PolicyName = Annotated[str, Field(pattern=POLICY_NAME_PATTERN, description="a-z 0-9 . _ -, <= 63")]


class RetentionParams(BaseModel):
    """Task parameters of `kind: retention`."""

    model_config = ConfigDict(extra="forbid")

    policy: PolicyName
    dry_run: bool = False
