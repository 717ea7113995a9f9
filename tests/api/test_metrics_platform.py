"""/metrics after a real push (skopeo) and real tasks (a Celery worker): the request series
and the platform series computed from the task database, with plausible values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until
from tests.support.clients import Skopeo
from tests.support.images import OciLayout
from tests.support.metrics import Samples, key, parse_samples


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("metrics-tasks"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start("registry", "worker")
        # /healthz answers once one of the two HTTP worker processes serves: wait for both.
        wait_until(lambda: live_processes(platform) == [2], 60, "both HTTP workers joined")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def live_processes(platform: TaskPlatform) -> list[int]:
    """The process count of each live instance."""
    cluster = platform.api().get("/api/v1/instances").json()
    return [row["processes"] for row in cluster["instances"] if row["live"]]


def scrape(platform: TaskPlatform) -> Samples:
    response = platform.api().get("/metrics")
    assert response.status_code == 200
    return parse_samples(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[key(name, **labels)]


@pytest.mark.e2e
def test_metrics_after_a_push_count_the_requests_and_bytes(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    layout.write_image("v1", [4_000, 300_000], seed=3)
    skopeo = Skopeo(tmp_path / "skopeo")

    skopeo.copy(f"oci:{tmp_path / 'layout'}:v1", f"docker://127.0.0.1:{platform.port}/m/app:v1")

    samples = scrape(platform)
    puts = sum(
        v
        for (name, labels), v in samples.items()
        if name == "hth_http_requests_total" and ("method", "PUT") in labels
    )
    assert puts >= 3  # two layers and the config blob finish with PUT, then the manifest
    received = sum(v for (name, _), v in samples.items() if name == "hth_http_received_bytes_total")
    assert received >= 300_000  # at least the big layer's compressed bytes came in
    # `http.workers` defaults to 2: one instance (the server) of two HTTP worker processes.
    assert value(samples, "hth_instances", state="serving") == 1
    assert value(samples, "hth_instance_processes") == 2
    assert value(samples, "hth_instances_dead") == 0
    assert value(samples, "hth_platform_scrape_ok") == 1


@pytest.mark.e2e
def test_metrics_after_tasks_count_them_by_kind_and_state_with_durations(
    platform: TaskPlatform,
) -> None:
    done = [platform.enqueue("noop", steps=3, step_seconds=0.05) for _ in range(2)]
    failed = platform.enqueue("noop", fail_permanent=True)
    for task in [*done, failed]:
        platform.wait_finished(task["id"])

    samples = scrape(platform)

    assert value(samples, "hth_tasks", kind="noop", state="succeeded") == 2
    assert value(samples, "hth_tasks", kind="noop", state="failed") == 1
    assert value(samples, "hth_task_queue_depth") == 0
    runs = value(samples, "hth_task_duration_seconds_count", kind="noop")
    assert runs == 3
    total = value(samples, "hth_task_duration_seconds_sum", kind="noop")
    assert 0.1 <= total < 3600  # two runs slept 3 x 0.05 s each
    assert value(samples, "hth_task_duration_seconds_bucket", kind="noop", le="+Inf") == 3
    assert value(samples, "hth_storage_lease_held", mode="readonly") == 0
    assert value(samples, "hth_storage_lease_token") >= 0
    # No GC or backup has run on this platform: the series exist and say "never".
    assert value(samples, "hth_last_success_timestamp_seconds", kind="gc") == 0
    assert value(samples, "hth_last_success_timestamp_seconds", kind="backup") == 0
    assert value(samples, "hth_gc_runs", state="succeeded") == 0
    assert value(samples, "hth_gc_blobs_deleted") == 0


@pytest.mark.e2e
def test_metrics_after_a_backup_record_when_it_last_succeeded(platform: TaskPlatform) -> None:
    task = platform.enqueue("backup")
    finished = platform.wait_finished(task["id"], timeout=60)
    assert finished["state"] == "succeeded", finished

    samples = scrape(platform)

    stamp = value(samples, "hth_last_success_timestamp_seconds", kind="backup")
    ended = datetime.fromisoformat(finished["finished_at"]).timestamp()
    assert abs(stamp - ended) < 1
    assert value(samples, "hth_tasks", kind="backup", state="succeeded") == 1
