"""/api/v1/repositories: list repositories and soft-delete one (GC frees its storage)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.state import app_state, get_driver
from api.v1.errors import V1Route, error_responses
from registry.content.names import validate_name
from registry.content.repositories import deleted_names, list_repositories, mark_deleted
from registry.content.tags import all_tags
from registry.errors import RegistryError, Unavailable
from registry.storage import StorageDriver, StorageError, StorageUnavailableError

router = APIRouter(prefix="/api/v1/repositories", tags=["repositories"], route_class=V1Route)

DriverDep = Annotated[StorageDriver, Depends(get_driver)]
T = TypeVar("T")


class RepositoryOut(BaseModel):
    name: str
    deleted: bool  # soft-deleted: not served, files freed by the next GC


class RepositoryPage(BaseModel):
    items: list[RepositoryOut]
    next_cursor: str | None


class DeleteAccepted(BaseModel):
    name: str
    deleted: bool
    detail: str


def _storage(call: Callable[[], T]) -> T:
    """Storage failures as typed errors: 503 while the backend is unavailable, else 500."""
    try:
        return call()
    except StorageUnavailableError:
        raise Unavailable("storage backend unavailable") from None
    except StorageError:
        raise RegistryError("internal storage error") from None


@router.get("", responses=error_responses(503))
def list_all(
    driver: DriverDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
    include_deleted: bool = False,
) -> RepositoryPage:
    """Repositories by name; `cursor` is the last name of the previous page."""
    names = _storage(lambda: list_repositories(driver, include_deleted=include_deleted))
    deleted = _storage(lambda: deleted_names(driver)) if include_deleted else set()
    after = [name for name in names if cursor is None or name > cursor]
    page = after[:limit]
    next_cursor = page[-1] if len(after) > limit else None
    items = [RepositoryOut(name=name, deleted=name in deleted) for name in page]
    return RepositoryPage(items=items, next_cursor=next_cursor)


@router.delete("/{name:path}", status_code=202, responses=error_responses(400, 404, 412, 503))
def delete(name: str, driver: DriverDep, request: Request) -> DeleteAccepted:
    """Soft-delete: from now on the repository answers 404 NAME_UNKNOWN (pushes included)
    and leaves the catalog; the next garbage collection removes its files and frees the name.
    A repository holding a protected tag is not deleted: 412 DENIED naming the tag (Harbor)."""
    validate_name(name)  # NAME_INVALID before any storage path is built from it
    protection = app_state(request).tag_guard.protection()
    tags = _storage(lambda: all_tags(driver, name))
    protection.check(name, tags or [])
    _storage(lambda: mark_deleted(driver, name))
    detail = "no longer served; the next garbage collection frees its storage"
    return DeleteAccepted(name=name, deleted=True, detail=detail)
