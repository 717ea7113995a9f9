"""The worker's own /metrics (queue.worker_metrics_port), scraped from a real `hth-ctl run
worker` whose prefork pool ran real tasks: attempts by kind and outcome, durations, running."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from testbed.processes import free_port
from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until
from tests.support.metrics import Samples, key, parse_samples


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("worker-metrics"),
        config={
            "queue": {
                "broker_url": namespace.url,
                "key_prefix": namespace.prefix,
                "worker_metrics_port": free_port(),
            }
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def scrape(platform: TaskPlatform) -> Samples:
    port = platform.full_config()["queue"]["worker_metrics_port"]
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return parse_samples(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(key(name, **labels), 0.0)


def run(platform: TaskPlatform, **params: object) -> dict[str, object]:
    return platform.wait_finished(platform.enqueue("noop", **params)["id"])


@pytest.mark.e2e
def test_worker_exports_attempts_by_kind_and_outcome_from_its_pool_processes(
    platform: TaskPlatform,
) -> None:
    assert run(platform, steps=3, step_seconds=0.05)["state"] == "succeeded"
    assert run(platform, fail_transient=1)["state"] == "succeeded"  # one retry, then done
    assert run(platform, fail_permanent=True)["state"] == "failed"

    samples = scrape(platform)

    assert value(samples, "hth_worker_up") == 1
    info = [labels for name, labels in samples if name == "hth_worker_info"]
    assert len(info) == 1 and dict(info[0])["node"].startswith("hth-")
    assert dict(info[0])["concurrency"] == "2"
    started = value(samples, "hth_worker_tasks_started_total", kind="noop")
    assert started == 4  # three tasks, one of them twice
    finished = "hth_worker_tasks_finished_total"
    assert value(samples, finished, kind="noop", outcome="succeeded") == 2
    assert value(samples, finished, kind="noop", outcome="retried") == 1
    assert value(samples, finished, kind="noop", outcome="failed") == 1
    assert value(samples, "hth_worker_task_duration_seconds_count", kind="noop") == 4
    seconds = value(samples, "hth_worker_task_duration_seconds_sum", kind="noop")
    assert 0.15 <= seconds < 300  # the three 0.05 s steps at least
    assert value(samples, "hth_worker_tasks_running", kind="noop") == 0


@pytest.mark.e2e
def test_worker_reports_the_attempt_running_now(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", steps=600, step_seconds=0.05)
    try:
        platform.wait_task(task["id"], lambda t: t["state"] == "running")
        wait_until(
            lambda: value(scrape(platform), "hth_worker_tasks_running", kind="noop") == 1,
            10,
            "the running attempt counted",
        )
    finally:
        platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
        platform.wait_finished(task["id"])
    samples = scrape(platform)
    assert value(samples, "hth_worker_tasks_running", kind="noop") == 0
    assert value(samples, "hth_worker_tasks_finished_total", kind="noop", outcome="cancelled") >= 1
