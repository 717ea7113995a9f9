"""GET /api/v1/status against a real registry/API and a real Celery worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("status"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "docker_registry": {"http": {"workers": 1}},
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def status(platform: TaskPlatform) -> dict[str, Any]:
    response = platform.api().get("/api/v1/status")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.integration
def test_status_lists_the_live_instance_and_the_worker_that_answers_a_ping(
    platform: TaskPlatform,
) -> None:
    answer = status(platform)

    assert [(i["live"], i["state"]) for i in answer["instances"]] == [(True, "serving")]
    assert answer["instances"][0]["address"].endswith(f":{platform.port}")
    assert len(answer["workers"]["names"]) == 1
    assert "@" in answer["workers"]["names"][0]  # Celery's "<name>@<host>"
    assert answer["workers"]["error"] is None
    assert answer["storage_lease"] is None


@pytest.mark.integration
def test_status_shows_a_running_task_with_its_progress_then_lists_it_as_recent(
    platform: TaskPlatform,
) -> None:
    task = platform.enqueue("noop", steps=400, step_seconds=0.05)

    def running_with_progress() -> dict[str, Any] | None:
        for item in status(platform)["running"]:
            if item["id"] == task["id"] and (item["progress"] or {}).get("done", 0) > 0:
                return item
        return None

    seen = wait_until(running_with_progress, 30, "the task running with progress")
    assert seen["progress"]["phase"] == "steps"
    assert seen["progress"]["total"] == 400
    platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    platform.wait_finished(task["id"])

    answer = status(platform)
    assert task["id"] not in [item["id"] for item in answer["running"]]
    assert answer["recent"][0]["id"] == task["id"]
    assert answer["recent"][0]["state"] == "cancelled"
    assert answer["queue_depth"] == 0


@pytest.mark.integration
def test_status_reports_the_last_backup_and_when_it_last_succeeded(
    platform: TaskPlatform,
) -> None:
    before = status(platform)["last"]
    assert before["gc"] == {"task": None, "last_success_at": None}

    task = platform.enqueue("backup")
    finished = platform.wait_finished(task["id"], timeout=60)

    last = status(platform)["last"]["backup"]
    assert last["task"]["id"] == task["id"]
    assert last["task"]["state"] == finished["state"] == "succeeded"
    assert last["last_success_at"] == finished["finished_at"]
