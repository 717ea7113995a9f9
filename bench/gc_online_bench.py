"""Pull and push throughput during a GC run through the REST task, against none (docs/gc.md).

Starts a registry (2 HTTP processes) and a worker on one storage and database, writes a
synthetic tree (tagged manifests that the mark phase reads, plus aged garbage blobs), then
runs the same client load three times: without GC, while a `gc` task (grace period 0, mode
`--mode`, default online) runs, and without GC again (the ratios are against the mean of the
two runs without GC, as the machine's other load may change meanwhile). Pulls fetch a small
image (manifest and blobs), pushes push a small new image; each operation is counted in the
GC phase during which it ended. Quick run:

    .venv/bin/python bench/gc_online_bench.py --repos 100 --manifests 20 --garbage 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.pusher import Refused, pull_image, push_image  # noqa: E402
from testbed.synthetic_tree import build_garbage, plant_garbage  # noqa: E402
from testbed.task_platform import TaskPlatform, postgres_database  # noqa: E402

MARK_PHASES = {
    "scan_repositories",
    "read_manifests",
    "mark",
    "scan_blobs",
    "scan_layer_links",
    "scan_uploads",
}


class Load:
    """`pullers` threads pulling one image and `pushers` threads pushing new ones."""

    def __init__(self, url: str, image: Any, pullers: int, pushers: int) -> None:
        self.url, self.image = url, image
        self.pullers, self.pushers = pullers, pushers
        self.phase = "none"
        self.done: Counter[tuple[str, str]] = Counter()  # (kind, phase class) -> count
        self.refused = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _count(self, kind: str) -> None:
        phase = self.phase
        where = "mark" if phase in MARK_PHASES else "none" if phase == "none" else "sweep"
        with self._lock:
            self.done[(kind, where)] += 1

    def _pull(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self._stop.is_set():
                pull_image(http, self.image)
                self._count("pull")

    def _push(self, number: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            serial = 0
            while not self._stop.is_set():
                serial += 1
                try:
                    push_image(http, f"bench/push{number}", f"t{serial}")
                    self._count("push")
                except Refused:
                    self.refused += 1
                    time.sleep(0.1)

    def run_while(self, busy: Any) -> None:
        threads = [threading.Thread(target=self._pull) for _ in range(self.pullers)]
        threads += [threading.Thread(target=self._push, args=(n,)) for n in range(self.pushers)]
        for thread in threads:
            thread.start()
        try:
            busy()
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(120)


def rate(load: Load, kind: str, where: str, seconds: float) -> float:
    return load.done[(kind, where)] / seconds if seconds > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--manifests", type=int, default=20, help="per repository")
    parser.add_argument("--layers", type=int, default=4, help="per manifest")
    parser.add_argument("--garbage", type=int, default=20_000, help="aged unreferenced blobs")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds without GC")
    parser.add_argument("--pullers", type=int, default=4)
    parser.add_argument("--pushers", type=int, default=2)
    parser.add_argument("--mode", default="online", choices=["online", "readonly", "stop"])
    parser.add_argument(
        "--cpu-nice", type=int, default=None, help="docker_registry.gc.cpu_nice (default: 10)"
    )
    parser.add_argument("--workers", type=int, help="docker_registry.gc.workers (default: 32)")
    parser.add_argument(
        "--share", type=float, help="docker_registry.gc.share_while_busy (default: 0.25)"
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gc-online-bench-"))
        config: dict[str, Any] = {"cluster": {"heartbeat_interval": "200ms"}}
        if args.postgres:
            config["database"] = {"url": stack.enter_context(postgres_database())}
        gc = {"cpu_nice": args.cpu_nice, "workers": args.workers, "share_while_busy": args.share}
        config["docker_registry"] = {"gc": {k: v for k, v in gc.items() if v is not None}}
        platform = TaskPlatform(Path(tmp), config=config)
        try:
            platform.start("registry", "worker")
            storage = platform.workdir / "storage"
            blobs = build_garbage(storage, args.repos, args.manifests, args.layers)
            plant_garbage(storage, args.garbage)
            with httpx.Client(base_url=platform.url, timeout=60) as http:
                image = push_image(http, "bench/pull", "v1")
            print(f"tree: {blobs} referenced blobs, {args.garbage} garbage blobs")
            base = Load(platform.url, image, args.pullers, args.pushers)
            base.run_while(lambda: time.sleep(args.baseline))
            report(platform, base, args)
        finally:
            platform.stop()


def report(platform: TaskPlatform, base: Load, args: argparse.Namespace) -> None:
    during = Load(platform.url, base.image, args.pullers, args.pushers)
    seconds: Counter[str] = Counter()
    result: dict[str, Any] = {}

    def gc() -> None:
        task = platform.enqueue("gc", grace_period="0s", cluster_mode=args.mode)
        last = time.monotonic()
        while True:
            found = platform.task(task["id"])
            now = time.monotonic()
            where = "mark" if during.phase in MARK_PHASES else "sweep"
            seconds[where if during.phase != "none" else "none"] += now - last
            last = now
            if found["state"] in ("succeeded", "failed", "cancelled"):
                result.update(found)
                return
            during.phase = (found.get("progress") or {}).get("phase") or "none"
            time.sleep(0.1)

    during.run_while(gc)
    after = Load(platform.url, base.image, args.pullers, args.pushers)
    after.run_while(lambda: time.sleep(args.baseline))  # the machine may have changed meanwhile
    res = result.get("result") or {}
    print(
        f"gc ({args.mode}): {result.get('state')} in {res.get('seconds')}s, "
        f"{res.get('blobs_deleted')} blobs deleted, kept by writes {res.get('kept_by_writes')}"
    )
    print(f"seconds by phase class: {dict(seconds)}; pushes refused during GC: {during.refused}")
    for kind in ("pull", "push"):
        before, later = (rate(load, kind, "none", args.baseline) for load in (base, after))
        alone = (before + later) / 2
        for where in ("mark", "sweep"):
            with_gc = rate(during, kind, where, seconds[where])
            ratio = with_gc / alone if alone else 0.0
            line = f"{kind}s/s without GC {alone:7.1f} ({before:.1f} before, {later:.1f} after)"
            print(f"{line}; during {where:5} {with_gc:7.1f} ({ratio:.0%})")


if __name__ == "__main__":
    main()
