"""Tasks through the REST API, run by a real Celery worker (prefork, Redis broker)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from registry import layout
from registry.storage import create_driver
from testbed.task_platform import TaskPlatform, wait_until

pytestmark = pytest.mark.integration


def test_a_task_runs_to_success_with_progress_result_and_log(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", steps=3)
    done = platform.wait_finished(task["id"])
    assert done["state"] == "succeeded"
    assert done["attempts"] == 1
    assert done["progress"] == {"phase": "steps", "done": 3, "total": 3, "note": None}
    assert done["result"] == {"steps": 3, "attempt": 1}
    assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]
    log = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "attempt 1 of 4 started" in log and log.rstrip().endswith("succeeded")


def test_progress_is_visible_while_the_task_runs(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", steps=40, step_seconds=0.1)
    running = platform.wait_task(
        task["id"], lambda t: t["state"] == "running" and (t["progress"] or {}).get("done", 0) > 0
    )
    assert running["progress"]["phase"] == "steps"
    assert 0 < running["progress"]["done"] < 40 and running["progress"]["total"] == 40
    assert platform.wait_finished(task["id"])["state"] == "succeeded"


def test_a_transient_fault_is_retried_with_growing_backoff(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", fail_transient=2)
    retrying = platform.wait_task(task["id"], lambda t: t["state"] == "retrying")
    assert retrying["attempts"] in (1, 2)
    assert "StorageUnavailableError: injected transient fault" in retrying["error"]
    assert retrying["retry_at"] is not None
    done = platform.wait_finished(task["id"])
    assert (done["state"], done["attempts"], done["error"]) == ("succeeded", 3, None)
    log = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    delays = [float(d) for d in re.findall(r"retry \d in ([\d.]+)s", log)]
    assert len(delays) == 2 and delays[0] <= delays[1]


def test_transient_faults_beyond_the_retry_budget_fail_the_task(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", fail_transient=10)
    done = platform.wait_finished(task["id"])
    assert (done["state"], done["attempts"]) == ("failed", 4)
    assert done["error"] == (
        "gave up after 4 attempts: StorageUnavailableError: injected transient fault (attempt 4)"
    )


def test_a_permanent_error_fails_at_once_with_its_message(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", fail_permanent=True)
    done = platform.wait_finished(task["id"])
    assert (done["state"], done["attempts"]) == ("failed", 1)
    assert done["error"] == "ValueError: injected permanent fault"


def test_cancel_stops_a_running_task_between_units_of_work(platform: TaskPlatform) -> None:
    task = platform.enqueue("noop", steps=200, step_seconds=0.05)
    platform.wait_task(task["id"], lambda t: (t["progress"] or {}).get("done", 0) > 0)
    response = platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    assert response.status_code == 202 and response.json()["state"] == "cancelling"
    done = platform.wait_finished(task["id"])
    assert done["state"] == "cancelled"
    assert done["progress"]["done"] < 200
    log = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    assert "stopped between units of work" in log


def test_cancel_of_a_queued_task_while_the_workers_are_busy(platform: TaskPlatform) -> None:
    busy = [platform.enqueue("noop", steps=400, step_seconds=0.05) for _ in range(2)]
    for task in busy:
        platform.wait_task(task["id"], lambda t: t["state"] == "running")
    waiting = platform.enqueue("noop")
    cancelled = platform.api().post(f"/api/v1/tasks/{waiting['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    for task in busy:
        platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
    for task in busy:
        assert platform.wait_finished(task["id"])["state"] == "cancelled"
    # The workers got its message and dropped it: it never ran.
    assert "dropped: already cancelled" in wait_until(
        lambda: "already cancelled" in (log := platform.logs()) and log, 10, "message dropped"
    )
    never_ran = platform.task(waiting["id"])
    assert (never_ran["state"], never_ran["attempts"], never_ran["started_at"]) == (
        "cancelled",
        0,
        None,
    )


def test_retry_of_a_failed_task_runs_it_again_as_a_new_task(platform: TaskPlatform) -> None:
    failed = platform.wait_finished(platform.enqueue("noop", fail_permanent=True)["id"])
    response = platform.api().post(f"/api/v1/tasks/{failed['id']}/retry")
    assert response.status_code == 202
    again = platform.wait_finished(response.json()["id"])
    assert again["retry_of"] == failed["id"]
    assert (again["state"], again["attempts"]) == ("failed", 1)


def test_purge_uploads_removes_stale_uploads_from_storage(platform: TaskPlatform) -> None:
    root = platform.workdir / "storage"
    driver = create_driver("filesystem", {"rootdirectory": str(root)})
    started = {"stale": datetime.now(UTC) - timedelta(days=8), "fresh": datetime.now(UTC)}
    for upload_id, when in started.items():
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        driver.put_content(layout.upload_started_at("team/app", upload_id), stamp)
        driver.put_content(layout.upload_data("team/app", upload_id), b"partial")
    dry = platform.wait_finished(platform.enqueue("purge_uploads", dry_run=True)["id"])
    assert dry["result"]["purged"] == [layout.upload_dir("team/app", "stale")]
    assert (root / layout.upload_dir("team/app", "stale").lstrip("/")).is_dir()
    real = platform.wait_finished(platform.enqueue("purge_uploads")["id"])
    assert (real["state"], real["result"]["purged_count"]) == ("succeeded", 1)
    assert not (root / layout.upload_dir("team/app", "stale").lstrip("/")).exists()
    assert (root / layout.upload_dir("team/app", "fresh").lstrip("/")).is_dir()
