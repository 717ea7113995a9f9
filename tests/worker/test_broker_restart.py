"""Redis (with AOF) killed and restarted under a running platform: nothing is lost, and
/readyz reports the broker unhealthy meanwhile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.task_platform import PrivateRedis, TaskPlatform, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture()
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture()
def platform(
    tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis
) -> Iterator[TaskPlatform]:
    platform = TaskPlatform(
        tmp_path_factory.mktemp("restart"), config={"queue": {"broker_url": private_redis.url}}
    )
    try:
        platform.start("registry", "worker", "beat")
        yield platform
    finally:
        platform.stop()


def broker_check(platform: TaskPlatform) -> tuple[int, str]:
    response = platform.api().get("/readyz")
    return response.status_code, response.json()["checks"]["broker"]


def test_tasks_survive_a_broker_restart(
    platform: TaskPlatform, private_redis: PrivateRedis
) -> None:
    assert broker_check(platform) == (200, "ok")
    busy = [platform.enqueue("noop", steps=30, step_seconds=0.1) for _ in range(2)]
    for task in busy:
        platform.wait_task(task["id"], lambda t: t["state"] == "running")
    waiting = [platform.enqueue("noop", steps=2) for _ in range(4)]  # held by Redis only
    assert all(task["sent_at"] for task in waiting)

    private_redis.kill()
    # /readyz may also fail for another reason under load: wait for the broker's own verdict.
    status, check = wait_until(
        lambda: (c := broker_check(platform))[1].startswith("failed: ") and c, 10, "broker failed"
    )
    assert status == 503
    during = platform.enqueue("noop")  # recorded now, sent once the broker is back
    assert during["state"] == "queued" and during["sent_at"] is None

    private_redis.start()  # same port, same AOF file
    wait_until(lambda: broker_check(platform) == (200, "ok"), 10, "broker healthy again")
    for task in [*busy, *waiting, during]:
        done = platform.wait_finished(task["id"], timeout=60)
        assert (done["state"], done["attempts"]) == ("succeeded", 1), done
