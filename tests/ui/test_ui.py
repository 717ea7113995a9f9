"""/ui/ rendered by headless Chromium against a real registry/API and a real worker running
a task, and shot during a real GC. Set HTH_UI_SCREENSHOT=docs/ui.png to refresh the
screenshot in the docs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO_ROOT
from tests.support.synthetic_tree import build_garbage
from tests.support.task_platform import RedisNamespace, TaskPlatform, wait_until
from tests.ui.devtools import HEADLESS_FLAGS, Browser

CHROMIUM_FLAGS = [
    *HEADLESS_FLAGS,
    "--window-size=1280,800",
    # Lets the page's fetch of /api/v1/status finish before the DOM is dumped.
    "--virtual-time-budget=4000",
]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("ui"),
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


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or "chromium"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


def running_task(platform: TaskPlatform) -> dict[str, Any]:
    task = platform.enqueue("noop", steps=600, step_seconds=0.05)
    return platform.wait_task(
        task["id"], lambda t: t["state"] == "running" and (t["progress"] or {}).get("done", 0) > 0
    )


@pytest.mark.e2e
def test_ui_renders_the_instance_the_worker_and_a_running_task_with_progress(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    task = running_task(platform)
    try:
        dom = chromium(tmp_path / "profile", "--dump-dom", f"{platform.url}/ui/").stdout
        instance = platform.api().get("/api/v1/instances").json()["instances"][0]

        assert instance["id"] in dom
        assert task["id"] in dom
        running = dom[dom.index('id="running"') : dom.index('id="recent"')]
        assert task["id"] in running and "noop" in running and "<progress" in running
        assert "no task is running" not in running
        assert 'id="worker-count">1<' in dom
    finally:
        platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
        platform.wait_finished(task["id"])


# GC phases of mark and sweep with a known total (registry/maintenance/gc_plan.py, gc_sweep.py).
GC_PHASES = {
    "read_manifests", "scan_blobs", "scan_layer_links", "scan_uploads", "delete_repositories",
    "delete_manifests", "delete_layer_links", "delete_blobs", "delete_empty_repositories",
}  # fmt: skip
RUNNING_ROW = """(() => {
  for (const tr of document.querySelectorAll("#running tbody tr"))
    if (tr.cells[0]?.innerText.trim() === %s) return [...tr.cells].map((td) => td.innerText.trim());
  return null;
})()"""


def gc_progress_shown(browser: Browser, task_id: str) -> tuple[str, int, int] | None:
    """(phase, done, total) while the page shows the GC running in a phase with progress."""
    cells = browser.evaluate(RUNNING_ROW % json.dumps(task_id))
    if not cells or cells[1:3] != ["gc", "running"]:
        return None
    found = re.fullmatch(r"(\w+) (\d+)/(\d+)", cells[3])
    if not found or found[1] not in GC_PHASES or int(found[2]) == 0:
        return None
    return found[1], int(found[2]), int(found[3])


@pytest.mark.e2e
def test_ui_screenshot_during_a_running_gc(platform: TaskPlatform, tmp_path: Path) -> None:
    """A GC over a tree with 40,000 garbage blobs (of 80,000), shot mid-phase: big enough that
    a phase with progress lasts longer than the page's 1 s refresh."""
    root = Path(platform.full_config()["docker_registry"]["storage_settings"]["rootdirectory"])
    assert build_garbage(root, repos=800, manifests=20, layers=3) == 80_000
    platform.wait_finished(platform.enqueue("noop", steps=3)["id"])  # a finished task to list
    shot = tmp_path / "ui.png"
    with Browser(tmp_path / "profile") as browser:
        browser.open(f"{platform.url}/ui/")
        task = platform.enqueue("gc", delete_untagged=True, grace_period="0s")
        try:
            shown = wait_until(lambda: gc_progress_shown(browser, task["id"]), 60, "GC shown")
            browser.screenshot(shot)
        finally:
            platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
            platform.wait_finished(task["id"], timeout=120)
            shutil.rmtree(root / "docker", ignore_errors=True)  # 100,000 files: not left behind

    phase, done, total = shown
    assert phase in GC_PHASES and 0 < done <= total
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("HTH_UI_SCREENSHOT")
    if target:
        shutil.copyfile(shot, REPO_ROOT / target)


def test_ui_serves_only_its_own_files(platform: TaskPlatform) -> None:
    api = platform.api()

    assert api.get("/ui", follow_redirects=False).headers["location"] == "/ui/"
    page = api.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert api.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/ui/..%2Fapp.py").status_code == 404
    assert api.get("/ui/__init__.py").status_code == 404
