"""`hth-ctl status` against `hth-ctl up` (embedded default: filesystem queue, SQLite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testbed.processes import REPO_ROOT, free_port
from testbed.task_platform import UpPlatform, wait_until


@pytest.mark.integration
def test_status_prints_instances_workers_and_the_newest_task(up_platform: UpPlatform) -> None:
    created = httpx.post(
        f"{up_platform.url}/api/v1/tasks", json={"kind": "noop", "params": {"steps": 2}}
    ).json()
    wait_until(
        lambda: (
            httpx.get(f"{up_platform.url}/api/v1/tasks/{created['id']}").json()["state"]
            == "succeeded"
        ),
        60,
        "the noop task done",
    )

    done = up_platform.hth_ctl("status")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "INSTANCES"
    assert any("live" in line and "serving" in line for line in lines[1:3])
    workers = next(line for line in lines if line.startswith("WORKERS"))
    assert workers != "WORKERS (0)", done.stdout  # the worker `up` started answered the ping
    recent = lines[lines.index("RECENT") + 1]
    assert created["id"] in recent and "succeeded" in recent
    assert any(line.startswith("LAST GC") for line in lines)


@pytest.mark.integration
def test_status_json_is_the_api_answer(up_platform: UpPlatform) -> None:
    done = up_platform.hth_ctl("status", "--json")

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) >= {"instances", "workers", "queue_depth", "running", "recent", "last"}


def test_status_says_plainly_when_the_api_is_down(tmp_path: Path) -> None:
    config = tmp_path / "hth.json"
    addr = f"127.0.0.1:{free_port()}"
    config.write_text(json.dumps({"docker_registry": {"http": {"addr": addr}}}))
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", str(config), "status"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "cannot reach the API" in done.stderr
    assert "Traceback" not in done.stderr
