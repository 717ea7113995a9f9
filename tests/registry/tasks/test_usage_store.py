"""The stored usage run on SQLite and PostgreSQL: a new run replaces the old one, pages go
largest first with ties by name (repositories and namespaces), a namespace filters, a
foreign cursor is a 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from registry.db.database import Database
from registry.maintenance.usage import NamespaceUsage, RepositoryUsage, UsageResult
from registry.tasks.errors import InvalidCursor
from registry.tasks.usage import (
    UsageNotComputed,
    latest_run,
    namespace_page,
    namespaces,
    repository_page,
    require_latest_run,
    save_usage,
)

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def result(
    sizes: dict[str, int], when: datetime = NOW, namespace_sizes: dict[str, int] | None = None
) -> UsageResult:
    namespace_sizes = namespace_sizes or {}
    repositories = [
        RepositoryUsage(name, name.partition("/")[0], size, size // 2, 1, 1, when)
        for name, size in sizes.items()
    ]
    names = sorted({r.namespace for r in repositories})
    return UsageResult(
        computed_at=when,
        total_bytes=sum(sizes.values()) + 2**40,  # past 32 bits: BIGINT columns
        gc_would_free_bytes=7,
        blobs=3,
        repositories=repositories,
        namespaces=[NamespaceUsage(n, namespace_sizes.get(n, 1), 1, 1) for n in names],
    )


def every_page(db: Database, limit: int, namespace: str | None = None) -> list[list[str]]:
    run = require_latest_run(db)
    pages, cursor = [], None
    while True:
        rows, cursor = repository_page(db, run, limit, cursor, namespace)
        pages.append([r.repository for r in rows])
        if cursor is None:
            return pages


def test_before_any_run_the_error_says_how_to_start_one(db: Database) -> None:
    with db.engine.begin() as connection:  # the PostgreSQL database is shared by the tests
        connection.execute(text("DELETE FROM usage_runs"))
    assert latest_run(db) is None
    with pytest.raises(UsageNotComputed) as raised:
        require_latest_run(db)
    assert "hth-ctl usage --refresh" in raised.value.message and raised.value.status == 404


def test_a_new_run_replaces_the_old_one(db: Database) -> None:
    save_usage(db, "old", result({"a/x": 5, "b/y": 3}))
    save_usage(db, "new", result({"c/z": 9}, NOW + timedelta(hours=1)))
    run = require_latest_run(db)
    assert (run.task_id, run.total_bytes, run.repositories) == ("new", 9 + 2**40, 1)
    assert run.computed_at == NOW + timedelta(hours=1)
    assert every_page(db, 10) == [["c/z"]]
    assert [n.namespace for n in namespaces(db, run)] == ["c"]


def test_pages_go_largest_first_with_ties_by_name(db: Database) -> None:
    save_usage(db, "run", result({"a/x": 5, "a/w": 5, "b/y": 9, "b/z": 1, "c/v": 5}))
    assert every_page(db, 2) == [["b/y", "a/w"], ["a/x", "c/v"], ["b/z"]]
    assert every_page(db, 5) == [["b/y", "a/w", "a/x", "c/v", "b/z"]]
    assert every_page(db, 1, namespace="a") == [["a/w"], ["a/x"]]
    assert every_page(db, 1, namespace="nobody") == [[]]


def test_a_cursor_not_handed_out_is_refused(db: Database) -> None:
    save_usage(db, "run", result({"a/x": 5}))
    run = require_latest_run(db)
    too_big = "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAsImEiXQ"  # [10**30, "a"]: past BIGINT
    for cursor in ("nonsense!", "WzEsMl0", "", "é", too_big):
        with pytest.raises(InvalidCursor):
            repository_page(db, run, 10, cursor, None)


def test_namespace_pages_go_largest_first_with_ties_by_name(db: Database) -> None:
    repositories = {"a/x": 1, "b/y": 1, "c/z": 1, "d/w": 1}
    save_usage(db, "run", result(repositories, namespace_sizes={"a": 5, "b": 9, "c": 5, "d": 2}))
    run = require_latest_run(db)
    pages, cursor = [], None
    while True:
        rows, cursor = namespace_page(db, run, 3, cursor)
        pages.append([(r.namespace, r.size_bytes) for r in rows])
        if cursor is None:
            break
    assert pages == [[("b", 9), ("a", 5), ("c", 5)], [("d", 2)]]
    with pytest.raises(InvalidCursor):
        namespace_page(db, run, 3, "nonsense!")
