"""The stored result of the newest `usage` run: its totals, a row per repository and per
namespace. Saving a run replaces the previous one in one transaction (migration 0009_usage)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, Index, Select, delete, insert, or_

from registry.content.names import MAX_NAME_LENGTH, NAME_PATTERN
from registry.db.database import Database
from registry.db.rows import Field, Row, col, select
from registry.db.session import Session
from registry.errors import RegistryError
from registry.tasks.errors import InvalidCursor
from registry.tasks.models import utc_time, utc_time_or_none
from registry.tasks.usage_result import NamespaceUsage, UsageResult


def _bytes() -> Any:
    return Field(default=0, sa_column=Column(BigInteger(), nullable=False))


class UsageRunRow(Row, table=True):
    __tablename__ = "usage_runs"

    task_id: str = Field(primary_key=True, max_length=36)
    computed_at: datetime = utc_time()
    total_bytes: int = _bytes()
    gc_would_free_bytes: int = _bytes()
    blobs: int = _bytes()
    repositories: int = 0
    seconds: float = 0.0


class UsageRepositoryRow(Row, table=True):
    __tablename__ = "usage_repositories"
    # Pages go by size within a run, optionally within a namespace.
    __table_args__ = (
        Index("ix_usage_repositories_size", "task_id", "size_bytes", "repository"),
        Index("ix_usage_repositories_namespace", "task_id", "namespace", "size_bytes"),
    )

    task_id: str = Field(primary_key=True, max_length=36)
    repository: str = Field(primary_key=True, max_length=255)
    namespace: str = Field(max_length=255)
    size_bytes: int = _bytes()
    unique_bytes: int = _bytes()
    manifests: int = 0
    tags: int = 0
    last_push_at: datetime | None = utc_time_or_none()


class UsageNamespaceRow(Row, table=True):
    __tablename__ = "usage_namespaces"

    task_id: str = Field(primary_key=True, max_length=36)
    namespace: str = Field(primary_key=True, max_length=255)
    size_bytes: int = _bytes()
    unique_bytes: int = _bytes()
    repositories: int = 0


class UsageNotComputed(RegistryError):
    code, status = "NOT_FOUND", 404
    default_message = (
        "no usage run has completed yet: start one with `hth-ctl usage --refresh` "
        'or POST /api/v1/tasks {"kind": "usage"}'
    )


def save_usage(db: Database, task_id: str, result: UsageResult) -> None:
    """Store `result` as the newest run and drop every other (a redelivered task's too)."""
    run = {
        "task_id": task_id,
        "computed_at": result.computed_at,
        "total_bytes": result.total_bytes,
        "gc_would_free_bytes": result.gc_would_free_bytes,
        "blobs": result.blobs,
        "repositories": len(result.repositories),
        "seconds": result.seconds,
    }
    with Session(db.engine) as session:
        for table in (UsageRepositoryRow, UsageNamespaceRow, UsageRunRow):
            session.execute(delete(table))
        session.execute(insert(UsageRunRow), [run])
        if result.repositories:
            rows = [{**asdict(r), "task_id": task_id} for r in result.repositories]
            session.execute(insert(UsageRepositoryRow), rows)
        if result.namespaces:
            rows = [{**asdict(n), "task_id": task_id} for n in result.namespaces]
            session.execute(insert(UsageNamespaceRow), rows)
        session.commit()


def latest_run(db: Database) -> UsageRunRow | None:
    with Session(db.engine) as session:
        query = select(UsageRunRow).order_by(col(UsageRunRow.computed_at).desc()).limit(1)
        return session.exec(query).first()


def require_latest_run(db: Database) -> UsageRunRow:
    """The newest run; UsageNotComputed (404, saying how to start one) before the first."""
    run = latest_run(db)
    if run is None:
        raise UsageNotComputed()
    return run


def encode_cursor(size_bytes: int, name: str) -> str:
    raw = json.dumps([size_bytes, name]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_NAME = re.compile(NAME_PATTERN)


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and bool(_NAME.fullmatch(name))


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        size, name = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor(f"invalid cursor {cursor!r}: pass the next_cursor of a page") from None
    # Within what the columns hold: anything else would be a database error, not a 400.
    if type(size) is not int or not 0 <= size < 2**63 or not _valid_name(name):
        raise InvalidCursor(f"invalid cursor {cursor!r}: pass the next_cursor of a page")
    return size, name


PageRow = TypeVar("PageRow", UsageRepositoryRow, UsageNamespaceRow)


def _largest_first(
    db: Database,
    query: Select[PageRow],
    table: type[PageRow],
    name: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[PageRow], str | None]:
    """A keyset page of `query`'s rows of `table`, largest first (ties by the `name`
    column), and the cursor of the next page (None: this is the last)."""
    size_column, name_column = col(table.size_bytes), col(getattr(table, name))
    if cursor is not None:
        size, after = _decode_cursor(cursor)
        same_size_after = (size_column == size) & (name_column > after)
        query = query.where(or_(size_column < size, same_size_after))
    query = query.order_by(size_column.desc(), name_column).limit(limit + 1)
    with Session(db.engine) as session:
        rows = list(session.exec(query).all())
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor(page[-1].size_bytes, getattr(page[-1], name))


def repository_page(
    db: Database, run: UsageRunRow, limit: int, cursor: str | None, namespace: str | None
) -> tuple[list[UsageRepositoryRow], str | None]:
    """A page of the run's repositories, largest first (ties by name), and the next cursor."""
    table = UsageRepositoryRow
    query = select(table).where(col(table.task_id) == run.task_id)
    if namespace is not None:
        query = query.where(col(table.namespace) == namespace)
    return _largest_first(db, query, table, "repository", limit, cursor)


def namespace_page(
    db: Database, run: UsageRunRow, limit: int, cursor: str | None
) -> tuple[list[UsageNamespaceRow], str | None]:
    """A page of the run's namespaces, largest first (ties by name), and the next cursor."""
    table = UsageNamespaceRow
    query = select(table).where(col(table.task_id) == run.task_id)
    return _largest_first(db, query, table, "namespace", limit, cursor)


def namespaces(db: Database, run: UsageRunRow) -> list[NamespaceUsage]:
    """The run's namespaces, largest first."""
    table = UsageNamespaceRow
    query = select(table).where(col(table.task_id) == run.task_id)
    query = query.order_by(col(table.size_bytes).desc(), col(table.namespace))
    with Session(db.engine) as session:
        rows = session.exec(query).all()
    return [NamespaceUsage(r.namespace, r.size_bytes, r.unique_bytes, r.repositories) for r in rows]
