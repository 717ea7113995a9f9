"""The platform on PostgreSQL (a throwaway database on the machine's server): migrated on
start, tasks run, cancel and schedules work as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect

from testbed.task_platform import RedisNamespace, TaskPlatform, postgres_database, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    with postgres_database() as url:
        platform = TaskPlatform(
            tmp_path_factory.mktemp("postgres"),
            config={
                "database": {"url": url},
                "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            },
        )
        try:
            platform.start("registry", "worker", "beat")
            yield platform
        finally:
            platform.stop()
            namespace.cleanup()


def test_the_schema_is_created_in_postgresql(on_postgres: TaskPlatform) -> None:
    url = on_postgres.full_config()["database"]["url"]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert {"tasks", "schedules", "locks", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
    assert not (on_postgres.workdir / "var" / "hth.db").exists()


def test_a_task_runs_to_success(on_postgres: TaskPlatform) -> None:
    task = on_postgres.enqueue("noop", steps=3, fail_transient=1)
    done = on_postgres.wait_finished(task["id"])
    assert (done["state"], done["attempts"], done["progress"]["done"]) == ("succeeded", 2, 3)


def test_a_running_task_is_cancelled(on_postgres: TaskPlatform) -> None:
    task = on_postgres.enqueue("noop", steps=300, step_seconds=0.05)
    on_postgres.wait_task(task["id"], lambda t: (t["progress"] or {}).get("done", 0) > 0)
    on_postgres.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    assert on_postgres.wait_finished(task["id"])["state"] == "cancelled"


def test_a_schedule_fires(on_postgres: TaskPlatform) -> None:
    body = {"kind": "noop", "params": {}, "cron": "* * * * * *"}
    schedule_id = on_postgres.api().post("/api/v1/schedules", json=body).json()["id"]
    try:
        page = wait_until(
            lambda: (
                (
                    p := on_postgres.api().get("/api/v1/tasks", params={"schedule": schedule_id})
                ).json()["items"]
                and p.json()
            ),
            30,
            "a firing",
        )
        assert page["items"][0]["trigger"] == "schedule"
    finally:
        on_postgres.api().delete(f"/api/v1/schedules/{schedule_id}")
