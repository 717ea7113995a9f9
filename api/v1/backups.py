"""/api/v1/backups: the backups in docker_registry.backups.directory, their size, the new
bytes each added and their verification state. Backups are made by `kind: backup` tasks.
The backup store's code (tarfile, zstandard: ~1.6 MiB) is imported by the first request here,
not by every HTTP worker at start (docs/benchmarks.md, "Footprint")."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.v1.deps import SettingsDep
from api.v1.errors import V1Route, error_responses
from registry.maintenance.backup.manifest import VerificationState

if TYPE_CHECKING:
    from registry.maintenance.backup.catalog import BackupSummary

router = APIRouter(prefix="/api/v1/backups", tags=["backups"], route_class=V1Route)


class VerificationOut(BaseModel):
    state: VerificationState
    checked_at: datetime | None
    blobs_checked: int
    problem_count: int


class BackupOut(BaseModel):
    id: str
    created_at: datetime
    finished_at: datetime
    repositories: int
    blobs: int
    size: int = Field(description="bytes a restore writes: blobs plus metadata files")
    new_blobs: int = Field(description="blobs this backup added to the shared store")
    new_bytes: int
    verification: VerificationOut

    @classmethod
    def of(cls, summary: BackupSummary) -> BackupOut:
        manifest, verification = summary.manifest, summary.verification
        return cls(
            id=manifest.id,
            created_at=manifest.created_at,
            finished_at=manifest.finished_at,
            repositories=manifest.repositories,
            blobs=len(manifest.blobs),
            size=manifest.size,
            new_blobs=manifest.blobs_copied,
            new_bytes=manifest.bytes_copied,
            verification=VerificationOut(
                state=summary.state,
                checked_at=verification.checked_at if verification else None,
                blobs_checked=verification.blobs_checked if verification else 0,
                problem_count=verification.problem_count if verification else 0,
            ),
        )


class BackupPage(BaseModel):
    directory: str
    items: list[BackupOut]


class ProblemOut(BaseModel):
    path: str
    digest: str
    problem: str


class BackupDetail(BackupOut):
    source: str = Field(description="the storage root it was taken from")
    metadata_files: int
    metadata_bytes: int
    missing_blobs: list[str] = Field(description="linked in the registry but absent from it")
    problems: list[ProblemOut] = Field(description="what the last verification found")


@router.get("")
def list_all(settings: SettingsDep) -> BackupPage:
    """Every backup, newest first."""
    from registry.maintenance.backup.catalog import catalog
    from registry.maintenance.backup.take import store_of

    store = store_of(settings)
    items = [BackupOut.of(summary) for summary in catalog(store)]
    return BackupPage(directory=str(store.directory), items=items)


@router.get("/{backup_id}", responses=error_responses(404))
def show(backup_id: str, settings: SettingsDep) -> BackupDetail:
    from registry.maintenance.backup.catalog import describe
    from registry.maintenance.backup.take import store_of

    summary = describe(store_of(settings), backup_id)
    manifest, verification = summary.manifest, summary.verification
    return BackupDetail(
        **BackupOut.of(summary).model_dump(),
        source=manifest.source,
        metadata_files=manifest.metadata.files,
        metadata_bytes=manifest.metadata.bytes,
        missing_blobs=manifest.missing_blobs,
        problems=[ProblemOut(**asdict(p)) for p in verification.problems] if verification else [],
    )
