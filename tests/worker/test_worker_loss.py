"""A worker killed with SIGKILL mid-task: its task is run again and finishes."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import pytest

from testbed.task_platform import RedisNamespace, TaskPlatform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("loss"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start("registry", "worker", "beat")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def running_with_progress(platform: TaskPlatform, task_id: str) -> dict[str, object]:
    return platform.wait_task(
        task_id, lambda t: t["state"] == "running" and (t["progress"] or {}).get("done", 0) >= 3
    )


def test_a_killed_pool_process_is_redelivered_and_finishes(lossy: TaskPlatform) -> None:
    task = lossy.enqueue("noop", steps=30, step_seconds=0.1)
    running = running_with_progress(lossy, task["id"])
    match = re.search(r"\(pid (\d+)\)", str(running["worker"]))
    assert match, running
    os.kill(int(match.group(1)), signal.SIGKILL)
    done = lossy.wait_finished(task["id"])
    assert (done["state"], done["attempts"]) == ("succeeded", 2)
    # Celery re-delivered the same message (task_reject_on_worker_lost), before the reaper.
    assert done["celery_id"] == task["celery_id"]
    log = lossy.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "worker lost during attempt 1; restarting" in log


def test_a_task_whose_worker_keeps_dying_fails_with_the_reason(lossy: TaskPlatform) -> None:
    task = lossy.enqueue("noop", steps=600, step_seconds=0.1)
    for attempt in range(1, 5):  # max_retries 3: four attempts, each killed
        running = lossy.wait_task(
            task["id"],
            lambda t, n=attempt: t["attempts"] == n and (t["progress"] or {}).get("done", 0) > 0,
        )
        if running["state"] != "running":
            break
        pid = re.search(r"\(pid (\d+)\)", str(running["worker"]))
        assert pid, running
        os.kill(int(pid.group(1)), signal.SIGKILL)
    done = lossy.wait_finished(task["id"], timeout=60)
    assert done["state"] == "failed"
    assert done["error"].startswith("gave up after 4 attempts: worker lost")


def test_a_killed_worker_is_reaped_and_its_task_finished_by_another(lossy: TaskPlatform) -> None:
    task = lossy.enqueue("noop", steps=30, step_seconds=0.1)
    running_with_progress(lossy, task["id"])
    worker = next(c for c in lossy.components if c.name == "worker")
    worker.kill()  # the worker and its pool processes, as in a crash
    lossy.start_worker()
    done = lossy.wait_finished(task["id"])
    assert (done["state"], done["attempts"]) == ("succeeded", 2)
    # Beat's reaper noticed the silence and queued the task again with a fresh message.
    assert done["celery_id"] != task["celery_id"]
    log = lossy.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "sent no heartbeat since" in log and "queued again" in log
