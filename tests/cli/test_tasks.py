"""`hth-ctl tasks ...` against `hth-ctl up` on the embedded default: the whole platform
(registry, worker, beat, Flower) with Celery's filesystem transport and SQLite, no server."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from registry import layout
from registry.storage import create_driver
from testbed.processes import REPO_ROOT
from testbed.task_platform import UpPlatform, wait_until

pytestmark = pytest.mark.integration


def start(up: UpPlatform, *args: str) -> str:
    result = up.hth_ctl("tasks", "start", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_up_runs_the_task_platform_with_no_server(up_platform: UpPlatform) -> None:
    ready = httpx.get(f"{up_platform.url}/readyz").json()
    assert ready["checks"]["broker"] == "ok"
    result = up_platform.hth_ctl("tasks", "start", "noop", "-p", "steps=3", "--wait")
    assert result.returncode == 0, result.stderr
    task_id, status = result.stdout.split()[:2]
    assert status == f"{task_id}:"
    assert (up_platform.workdir / "var" / "hth.db").is_file()
    assert (up_platform.workdir / "var" / "queue").is_dir()
    shown = json.loads(up_platform.hth_ctl("tasks", "show", task_id).stdout)
    assert (shown["state"], shown["trigger"], shown["result"]) == (
        "succeeded",
        "cli",
        {"steps": 3, "attempt": 1},
    )


def test_purge_uploads_runs_from_the_cli(up_platform: UpPlatform) -> None:
    root = up_platform.workdir / "var" / "storage" / "docker_registry"
    driver = create_driver("filesystem", {"rootdirectory": str(root)})
    stale = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    driver.put_content(layout.upload_started_at("team/app", "old-upload"), stale.encode())
    result = up_platform.hth_ctl("tasks", "start", "purge_uploads", "--wait")
    assert result.returncode == 0, result.stderr
    task_id = result.stdout.split()[0]
    assert not (root / layout.upload_dir("team/app", "old-upload").lstrip("/")).exists()
    log = up_platform.hth_ctl("tasks", "log", task_id).stdout
    assert f"deleting {layout.upload_dir('team/app', 'old-upload')}" in log


def test_flower_shows_our_tasks_with_names_and_arguments(up_platform: UpPlatform) -> None:
    task_id = start(up_platform, "noop", "-p", "steps=1")
    up_platform.hth_ctl("tasks", "wait", task_id)
    password = (up_platform.workdir / "var" / "flower.password").read_text().strip()
    flower = f"http://127.0.0.1:{up_platform.flower_port}"
    assert httpx.get(f"{flower}/api/tasks").status_code == 401

    def shown() -> list[dict[str, object]]:
        tasks = httpx.get(f"{flower}/api/tasks", auth=("admin", password)).json()
        return [t for t in tasks.values() if t["args"] == f"['{task_id}']"]

    [task] = wait_until(shown, 30, "Flower showing the task")
    assert task["name"] == "hth.noop"
    assert task["kwargs"] == '{"steps": 1}'


def test_cancel_wait_and_retry(up_platform: UpPlatform) -> None:
    task_id = start(up_platform, "noop", "--params", '{"steps": 300, "step_seconds": 0.05}')
    cancelled = up_platform.hth_ctl("tasks", "cancel", task_id)
    assert cancelled.returncode == 0
    assert cancelled.stdout.strip() in (f"{task_id}: cancelled", f"{task_id}: cancelling")
    waited = up_platform.hth_ctl("tasks", "wait", task_id)
    assert waited.returncode == 1
    assert waited.stderr.strip().endswith(f"task {task_id} cancelled")
    retried = up_platform.hth_ctl("tasks", "retry", task_id)
    assert retried.returncode == 0
    new_id = retried.stdout.strip()
    assert new_id != task_id
    listing = up_platform.hth_ctl("tasks", "list", "--state", "cancelled").stdout
    assert task_id in listing
    up_platform.hth_ctl("tasks", "cancel", new_id)


def test_errors_are_one_line_with_exit_code_1(up_platform: UpPlatform) -> None:
    missing = up_platform.hth_ctl("tasks", "show", "01a21a58-c3b8-7ac8-9cff-562483c3af22")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "404" in missing.stderr
    bad = up_platform.hth_ctl("tasks", "start", "noop", "-p", "steps=-1")
    assert bad.returncode == 1 and "params.steps" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_wait_draws_a_progress_bar_on_a_terminal(up_platform: UpPlatform) -> None:
    task_id = start(up_platform, "noop", "-p", "steps=20", "-p", "step_seconds=0.1")
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-m", "cli.main", "--config", str(up_platform.config_file)]
    proc = subprocess.Popen(
        [*command, "tasks", "wait", task_id], cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=secondary,
    )  # fmt: skip
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        drawn += chunk
    assert proc.wait(60) == 0
    os.close(primary)
    text = drawn.decode(errors="replace")
    assert "steps" in text and "20/20" in text
