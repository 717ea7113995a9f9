"""/api/v1/usage: the newest `usage` run, repositories (and, at /namespaces, namespaces)
largest first (docs/usage.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Self, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.v1.deps import DbDep
from api.v1.errors import V1Route, error_responses
from registry.db.database import Database
from registry.tasks.usage import (
    UsageRunRow,
    namespace_page,
    repository_page,
    require_latest_run,
)

# A repository name's first component (distribution-spec grammar).
NAMESPACE_PATTERN = r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$"

router = APIRouter(prefix="/api/v1/usage", tags=["usage"], route_class=V1Route)
_Item = TypeVar("_Item", bound=BaseModel)


class RepositoryUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read off the run's rows

    repository: str
    size_bytes: int = Field(description="blobs its manifests reference, and the manifests")
    unique_bytes: int = Field(description="of those, the bytes no other repository references")
    manifests: int
    tags: int
    last_push_at: datetime | None = Field(description="when a tag last moved; null: no tag")


class RunPage(BaseModel, Generic[_Item]):
    """A page of a usage run's entries, largest first, with the run's totals."""

    items: list[_Item]
    next_cursor: str | None
    total_bytes: int = Field(description="every referenced blob counted once")
    gc_would_free_bytes: int
    computed_at: datetime

    @classmethod
    def of(cls, run: UsageRunRow, items: list[_Item], next_cursor: str | None) -> Self:
        return cls(
            items=items,
            next_cursor=next_cursor,
            total_bytes=run.total_bytes,
            gc_would_free_bytes=run.gc_would_free_bytes,
            computed_at=run.computed_at,
        )


class UsagePage(RunPage[RepositoryUsageOut]):
    pass


class NamespaceUsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    namespace: str
    size_bytes: int = Field(description="blobs its repositories reference, each blob once")
    unique_bytes: int = Field(description="of those, the bytes no other namespace references")
    repositories: int


class NamespacePage(RunPage[NamespaceUsageOut]):
    pass


Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("", responses=error_responses(400, 404))
def usage(
    db: DbDep,
    limit: Limit = 100,
    cursor: str | None = None,
    namespace: Annotated[str | None, Query(max_length=255, pattern=NAMESPACE_PATTERN)] = None,
) -> UsagePage:
    """Repositories by size (largest first) as the newest completed `usage` run found them;
    `cursor` is the `next_cursor` of the previous page, `namespace` the first path component."""
    return usage_page(db, require_latest_run(db), limit, cursor, namespace)


def usage_page(
    db: Database,
    run: UsageRunRow,
    limit: int,
    cursor: str | None = None,
    namespace: str | None = None,
) -> UsagePage:
    """A page of `run`'s repositories with the run's totals."""
    rows, next_cursor = repository_page(db, run, limit, cursor, namespace)
    items = [RepositoryUsageOut.model_validate(row) for row in rows]
    return UsagePage.of(run, items, next_cursor)


@router.get("/namespaces", responses=error_responses(400, 404))
def usage_by_namespace(db: DbDep, limit: Limit = 100, cursor: str | None = None) -> NamespacePage:
    """Namespaces (first path components) by size, largest first, as the newest completed
    `usage` run found them: a blob shared by two repositories of one counts once in it."""
    run = require_latest_run(db)
    rows, next_cursor = namespace_page(db, run, limit, cursor)
    items = [NamespaceUsageOut.model_validate(row) for row in rows]
    return NamespacePage.of(run, items, next_cursor)
