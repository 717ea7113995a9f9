"""A worker SIGKILLed after it took a task's message from the broker but before the task
started: the message is gone with it, the reaper re-sends the task once its start deadline
passed, and a new worker runs it exactly once. On both transports: the filesystem one
(the message lived only in the dead worker's memory) and Redis (the message sits in the
`unacked` hash until its visibility timeout, hours away)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from testbed.task_platform import Component, RedisNamespace, TaskPlatform, wait_until

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 5
DEADLINE = f"{DEADLINE_SECONDS}s"


@pytest.fixture(params=["filesystem", "redis"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TaskPlatform]:
    queue: dict[str, Any] = {"concurrency": 1, "start_deadline": DEADLINE}
    queue["worker_metrics_port"] = 0
    namespace = RedisNamespace() if request.param == "redis" else None
    if namespace is not None:
        queue |= {"broker_url": namespace.url, "key_prefix": namespace.prefix}
    platform = TaskPlatform(tmp_path_factory.mktemp("loss"), config={"queue": queue})
    try:
        platform.start("registry", "worker", "beat")
        yield platform
    finally:
        platform.stop()
        if namespace is not None:
            namespace.cleanup()


def pool_processes(worker: Component) -> list[int]:
    assert worker.proc is not None
    children = Path(f"/proc/{worker.proc.pid}/task/{worker.proc.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def waiting_in_broker(platform: TaskPlatform, message_id: str) -> bool:
    queue = platform.full_config()["queue"]
    if "broker_url" not in queue:
        folder = platform.workdir / "var" / "queue" / "messages"
        return any(message_id in name for name in os.listdir(folder))
    client = redis.Redis.from_url(queue["broker_url"])
    try:
        return any(
            message_id.encode() in raw for raw in client.lrange(f"{queue['key_prefix']}hth", 0, -1)
        )
    finally:
        client.close()


def log_of(platform: TaskPlatform, task_id: str) -> str:
    return platform.api().get(f"/api/v1/tasks/{task_id}/log").text


def test_a_message_taken_by_a_worker_killed_before_starting_it_is_sent_again_and_runs_once(
    platform: TaskPlatform,
) -> None:
    worker = next(c for c in platform.components if c.name == "worker")
    stopped = pool_processes(worker)
    assert stopped, "the prefork pool has no process"
    for pid in stopped:  # the pool cannot start anything; the worker still takes a message
        os.kill(pid, signal.SIGSTOP)
    task = platform.enqueue("noop", steps=3)
    wait_until(lambda: not waiting_in_broker(platform, task["celery_id"]), 30, "message taken")
    worker.kill()  # the worker and its stopped pool: the message it held dies with them

    lost = platform.task(task["id"])
    assert (lost["state"], lost["attempts"], lost["celery_id"]) == ("queued", 0, task["celery_id"])
    platform.start_worker()
    done = platform.wait_finished(task["id"], timeout=60)
    assert (done["state"], done["attempts"]) == ("succeeded", 1), platform.logs()
    assert done["celery_id"] != task["celery_id"]
    log = log_of(platform, task["id"]).splitlines()
    assert sum(" started on " in line for line in log) == 1, log
    assert sum(line.endswith(" succeeded") for line in log) == 1, log
    # Re-sent once per expiry of the deadline: a second time only if the new worker, still
    # starting on a loaded machine, took the first re-sent message and was slow to begin.
    resent = [
        datetime.fromisoformat(line.split(" ", 1)[0])
        for line in log
        if line.endswith(
            f"not started within {DEADLINE} of being sent, and its message "
            "left the broker's queue; sending it again"
        )
    ]
    assert resent, log
    assert all(
        later - earlier >= timedelta(seconds=DEADLINE_SECONDS)
        for earlier, later in zip(resent, resent[1:], strict=False)
    ), log
