"""Task platform: enqueue-to-start latency and throughput of no-op tasks via the REST API.

Starts a registry/API, two Celery workers (one process each) and a beat on the machine's
Redis (own key prefix) and SQLite (or --database-url), then

  * latency: --paced tasks, one every --gap seconds (an idle platform): p50/p99 of
    started_at - created_at (record creation to a worker starting it);
  * throughput: --tasks tasks posted by --clients threads at once: tasks per second from the
    first POST to the last finish, and the same latency percentiles under that backlog.

Every task must end `succeeded` after exactly one attempt (none lost, none run twice).

    .venv/bin/python bench/tasks_bench.py [--tasks 1000 --paced 200 --clients 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from testbed.task_platform import RedisNamespace, TaskPlatform  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def post(platform: TaskPlatform, count: int) -> list[str]:
    return [platform.enqueue("noop")["id"] for _ in range(count)]


def collect(platform: TaskPlatform, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pending, done = set(ids), {}
    while pending and time.monotonic() < deadline:
        cursor: str | None = None
        while True:
            params = {"kind": "noop", "limit": 500} | ({"cursor": cursor} if cursor else {})
            page = platform.api().get("/api/v1/tasks", params=params).json()
            for task in page["items"]:
                if task["id"] in pending and task["state"] in ("succeeded", "failed"):
                    done[task["id"]] = task
                    pending.discard(task["id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        time.sleep(0.2)
    if pending:
        raise SystemExit(f"{len(pending)} tasks did not finish within {timeout}s (lost?)")
    return [done[i] for i in ids]


def check(platform: TaskPlatform, tasks: list[dict[str, Any]]) -> None:
    bad = [t for t in tasks if t["state"] != "succeeded" or t["attempts"] != 1]
    if bad:
        raise SystemExit(f"{len(bad)} tasks failed or ran more than once, e.g. {bad[0]}")
    for task in tasks[:: max(1, len(tasks) // 50)]:  # a sample of logs: exactly one start
        log = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
        if log.count(" started on ") != 1:
            raise SystemExit(f"task {task['id']} started more than once:\n{log}")


def latencies(tasks: list[dict[str, Any]]) -> dict[str, float]:
    waits = [seconds(t["started_at"], t["created_at"]) * 1000 for t in tasks]
    return {
        "p50_ms": round(percentile(waits, 50), 1),
        "p99_ms": round(percentile(waits, 99), 1),
        "max_ms": round(max(waits), 1),
        "mean_ms": round(statistics.fmean(waits), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    namespace = RedisNamespace()
    config: dict[str, Any] = {
        "queue": {
            "broker_url": namespace.url,
            "key_prefix": namespace.prefix,
            "concurrency": 1,
            "heartbeat": "5s",
            "dead_after": "30s",
            "resend_after": "30s",
        },
    }
    if args.database_url:
        config["database"] = {"url": args.database_url}
    platform = TaskPlatform(Path(tempfile.mkdtemp(prefix="tasks-bench-")), config=config)
    try:
        platform.start("registry", "worker", "worker", "beat")
        post(platform, 10)  # warm up: connections, pool processes, imports
        time.sleep(2)

        paced: list[str] = []
        for _ in range(args.paced):
            paced.append(platform.enqueue("noop")["id"])
            time.sleep(args.gap)
        paced_tasks = collect(platform, paced, timeout=120)
        check(platform, paced_tasks)

        started = time.monotonic()
        share = [args.tasks // args.clients] * args.clients
        share[0] += args.tasks - sum(share)
        with ThreadPoolExecutor(args.clients) as pool:
            ids = [i for chunk in pool.map(lambda n: post(platform, n), share) for i in chunk]
        posted = time.monotonic() - started
        burst = collect(platform, ids, timeout=600)
        elapsed = max(seconds(t["finished_at"], min(x["created_at"] for x in burst)) for t in burst)
        check(platform, burst)
        return {
            "database": "postgresql" if args.database_url else "sqlite",
            "workers": 2,
            "idle": {"tasks": len(paced_tasks), "gap_s": args.gap, **latencies(paced_tasks)},
            "burst": {
                "tasks": len(burst),
                "clients": args.clients,
                "post_rate_per_s": round(len(ids) / posted, 1),
                "throughput_per_s": round(len(burst) / elapsed, 1),
                **latencies(burst),
            },
            "lost": 0,
            "duplicated": 0,
        }
    finally:
        platform.stop()
        namespace.cleanup()
        shutil.rmtree(platform.workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between paced tasks")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    report = run(parser.parse_args())
    out = REPO_ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "tasks_bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
