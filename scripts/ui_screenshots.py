"""Screenshots of the status page /ui/ for the docs: the idle page (docs/ui-idle.png) and the
page during a real GC, shot mid-phase (docs/ui-gc.png).

Starts a registry/API and a worker (`hth-ctl run ...`) on a throwaway SQLite database and
filesystem storage, the machine's Redis (own key prefix) as broker, and headless Chromium.
The GC runs over a synthetic tree with --repos * 50 garbage blobs (of twice that), enough
for a phase to last longer than the page's 1 s refresh; it is cancelled once shot.

    .venv/bin/python scripts/ui_screenshots.py [--out docs] [--repos 800] [--redis URL]
        [--tmp DIR]

The tree is about 430,000 files and folders: on a disk that discards freed blocks, deleting
it can take many minutes; `--tmp /dev/shm` keeps it in memory (about 0.8 GB, freed at the end).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from testbed.synthetic_tree import build_garbage  # noqa: E402
from testbed.task_platform import (  # noqa: E402
    MACHINE_REDIS,
    RedisNamespace,
    TaskPlatform,
    wait_until,
)
from tests.ui.devtools import Browser  # noqa: E402

# GC phases with a known total (registry/maintenance/gc/plan.py, gc/sweep.py).
GC_PHASES = {
    "read_manifests", "scan_blobs", "scan_layer_links", "scan_uploads", "delete_repositories",
    "delete_manifests", "delete_layer_links", "delete_blobs", "delete_empty_repositories",
}  # fmt: skip
RUNNING_ROW = """(() => {
  for (const tr of document.querySelectorAll("#running tbody tr"))
    if (tr.cells[0].innerText.trim() === %s) return [...tr.cells].map((td) => td.innerText.trim());
  return null;
})()"""
IDLE = """document.getElementById("worker-count").textContent === "1"
  && document.querySelectorAll("#instances tbody tr td.empty").length === 0
  && document.querySelectorAll("#instances tbody tr").length > 0"""


def gc_progress_shown(browser: Browser, task_id: str) -> bool:
    """Whether the page shows the GC running in a phase with progress past 0."""
    cells = browser.evaluate(RUNNING_ROW % json.dumps(task_id))
    if not cells or cells[1:3] != ["gc", "running"]:
        return False
    found = re.fullmatch(r"(\w+) (\d+)/(\d+)", cells[3])
    return bool(found and found[1] in GC_PHASES and int(found[2]) > 0)


def shoot_idle(platform: TaskPlatform, browser: Browser, out: Path) -> None:
    browser.open(f"{platform.url}/ui/")
    wait_until(lambda: browser.evaluate(IDLE), 30, "the instance and the worker shown")
    browser.screenshot(out / "ui-idle.png")


def shoot_gc(platform: TaskPlatform, browser: Browser, out: Path, repos: int) -> None:
    root = Path(platform.full_config()["docker_registry"]["storage_settings"]["rootdirectory"])
    print(f"writing {build_garbage(root, repos=repos, manifests=20, layers=3)} blobs", flush=True)
    platform.wait_finished(platform.enqueue("noop", steps=3)["id"])  # a finished task to list
    task = platform.enqueue("gc", delete_untagged=True, grace_period="0s")
    try:
        wait_until(lambda: gc_progress_shown(browser, task["id"]), 120, "the GC's progress shown")
        browser.screenshot(out / "ui-gc.png")
    finally:
        platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
        platform.wait_finished(task["id"], timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--repos", type=int, default=800, help="repositories of the GC's tree")
    parser.add_argument("--redis", default=MACHINE_REDIS, help="broker (a key prefix is added)")
    parser.add_argument("--tmp", type=Path, help="where the throwaway platform lives")
    args = parser.parse_args()
    namespace = RedisNamespace(args.redis)
    with tempfile.TemporaryDirectory(prefix="hth-ui-shots-", dir=args.tmp) as workdir:
        platform = TaskPlatform(
            Path(workdir) / "platform",
            config={
                "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
                "docker_registry": {"http": {"workers": 1}},
            },
        )
        try:
            platform.start("registry", "worker")
            with Browser(Path(workdir) / "chromium") as browser:
                shoot_idle(platform, browser, args.out)
                shoot_gc(platform, browser, args.out, args.repos)
                problems = browser.clear_problems()
        finally:
            platform.stop()
            namespace.cleanup()
    for problem in problems:
        print(f"page problem: {problem}", file=sys.stderr)
    print(f"wrote {args.out / 'ui-idle.png'} and {args.out / 'ui-gc.png'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
