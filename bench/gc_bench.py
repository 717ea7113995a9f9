"""Garbage collection: ours against Distribution's `garbage-collect --delete-untagged`.

Builds a synthetic filesystem registry (every repository has as many tags as manifests/2;
each tag was overwritten once, so half of the manifests, and with them half of the blobs,
are unreferenced), copies it twice, runs Distribution's GC on one copy and ours on the other
in child processes, checks that both kept the same blobs and manifests, and prints both
times, the ratio and the peak RSS of both (with --rest, the worker's pool process; none on S3).

    .venv/bin/python bench/gc_bench.py [--repos 2000 --blobs 100000 --manifests 20000]
        [--rest online|readonly|stop]   # ours as a gc task through the REST API
        [--s3]                          # both on S3 (moto) buckets holding the same tree
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from testbed.raw_http import descendants  # noqa: E402
from testbed.synthetic_tree import V2, build_garbage  # noqa: E402

GC_WORKERS = 32  # GCOptions' default


@dataclass(frozen=True)
class Shape:
    repos: int
    blobs: int
    manifests: int

    @property
    def layers_per_manifest(self) -> int:
        # Every manifest owns its manifest blob, its config and this many layers.
        return max(0, self.blobs // self.manifests - 2)


def build(root: Path, shape: Shape) -> int:
    per_repo = max(2, shape.manifests // shape.repos)
    return build_garbage(root, shape.repos, per_repo, shape.layers_per_manifest)


def run_distribution(root: Path, workdir: Path) -> tuple[float, int]:
    config = workdir / "distribution.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n"
    )
    return distribution_gc(config)


def distribution_gc(config: Path) -> tuple[float, int]:
    command = ["docker-registry", "garbage-collect", "--delete-untagged", str(config)]
    return _timed(command, env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"})


def run_ours(
    root: Path, workers: int, links: bool, driver: str = "filesystem", settings: Any = None
) -> tuple[float, int, dict[str, Any]]:
    out = root.parent / "ours.json"
    command = [sys.executable, __file__, "--run-ours", str(root), "--workers", str(workers)]
    command += ["--remove-layer-links"] if links else []
    if settings is not None:
        command += ["--driver", driver, "--driver-settings", json.dumps(settings)]
    seconds, rss = _timed([*command, "--result", str(out)], env=dict(os.environ))
    return seconds, rss, json.loads(out.read_text())


def run_ours_rest(
    root: Path, workdir: Path, mode: str, nice: int | None, workers: int
) -> tuple[float, int, dict[str, object]]:
    """Ours as operators run it: a `gc` task through the REST API on a running registry and
    worker (their start-up excluded), timed from the request to the finished task."""
    from testbed.task_platform import TaskPlatform

    storage: dict[str, Any] = {"storage_settings": {"rootdirectory": str(root)}}
    storage["gc"] = {"workers": workers}  # docker_registry.gc.workers
    if nice is not None:  # docker_registry.gc.cpu_nice (Distribution runs at the usual 0)
        storage["gc"]["cpu_nice"] = nice
    platform = TaskPlatform(workdir / "platform", config={"docker_registry": storage})
    try:
        worker = platform.start("registry", "worker")[1]
        started = time.monotonic()
        params = {"delete_untagged": True, "grace_period": "0s", "cluster_mode": mode}
        task = platform.enqueue("gc", **params)
        done = platform.wait_finished(task["id"], timeout=3600)
        seconds = time.monotonic() - started
        assert worker.proc is not None
        rss = _peak_rss(worker.proc.pid)
    finally:
        platform.stop()
    if done["state"] != "succeeded":
        raise SystemExit(f"the gc task {done['state']}: {done.get('error')}")
    return seconds, rss, done["result"]


def _peak_rss(pid: int) -> int:
    """The largest peak RSS (KiB) of `pid` and its descendants: the worker's pool process
    that ran the task (Linux: VmHWM in /proc)."""
    peak = 0
    for each in [pid, *descendants(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        peak = max(peak, int(found.group(1)) if found else 0)
    return peak


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of a child process."""
    os.sync()  # the copies' dirty pages are written before, not during, the timed run
    started = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {stderr[-2000:]}")
    return seconds, usage.ru_maxrss


def _ours_in_process(args: argparse.Namespace) -> None:
    from registry.maintenance.gc.collect import GCOptions, collect_garbage
    from registry.storage import create_driver

    root, workers, links = args.run_ours, args.workers, args.remove_layer_links
    settings = json.loads(args.driver_settings or "null") or {"rootdirectory": str(root)}
    driver = create_driver(args.driver, settings)
    options = GCOptions(
        delete_untagged=True, grace_period=timedelta(0), workers=workers, remove_layer_links=links
    )
    result = collect_garbage(driver, options)
    args.result.write_text(json.dumps(result.to_dict()))


def kept(root: Path) -> set[str]:
    """The blobs and the manifest revisions/tags left (layer links excluded: we remove the
    links of deleted blobs, Distribution leaves them)."""
    found = set()
    for folder in ("blobs", "repositories"):
        for directory, _, files in os.walk(root / V2 / folder):
            if "/_layers" in directory:
                continue
            found.update(os.path.join(directory, f)[len(str(root)) :] for f in files)
    return found


def _copy(source: Path, target: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=GC_WORKERS, help="our GC's threads")
    parser.add_argument(
        "--remove-layer-links", action="store_true", help="ours also removes deleted blobs' links"
    )
    parser.add_argument("--workdir", type=Path, help="keep the trees here (default: a temp dir)")
    parser.add_argument(
        "--rest",
        choices=["online", "readonly", "stop"],
        help="run ours as a gc task through the REST API in this mode (default: in a process)",
    )
    parser.add_argument("--s3", action="store_true", help="both GCs on S3 buckets in moto")
    parser.add_argument(
        "--cpu-nice", type=int, help="with --rest: docker_registry.gc.cpu_nice (default 10)"
    )
    parser.add_argument("--run-ours", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--driver", default="filesystem", help=argparse.SUPPRESS)
    parser.add_argument("--driver-settings", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_ours:
        _ours_in_process(args)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gc-bench-"))
    try:
        shape = Shape(args.repos, args.blobs, args.manifests)
        bench(workdir, shape, args, args.s3)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def bench(workdir: Path, shape: Shape, args: argparse.Namespace, s3: bool) -> None:
    workers, links, rest, nice = args.workers, args.remove_layer_links, args.rest, args.cpu_nice
    original, theirs, ours = workdir / "original", workdir / "theirs", workdir / "ours"
    started = time.monotonic()
    blobs = build(original, shape)
    print(
        f"built {shape.repos} repositories, {blobs} blobs, "
        f"{shape.repos * max(2, shape.manifests // shape.repos)} manifests "
        f"in {time.monotonic() - started:.1f}s"
    )
    if s3:
        from bench.gc_s3 import bench_s3

        theirs_s, ours_s, result, same = bench_s3(
            original,
            workdir,
            distribution_gc,
            lambda driver, settings: run_ours(ours, workers, links, driver, settings),
        )
        theirs_rss = ours_rss = 0
    else:
        _copy(original, theirs)
        _copy(original, ours)
        theirs_s, theirs_rss = run_distribution(theirs, workdir)
        if rest:
            ours_s, ours_rss, result = run_ours_rest(ours, workdir, rest, nice, workers)
        else:
            ours_s, ours_rss, result = run_ours(ours, workers, links)
        same = kept(theirs) == kept(ours)
    print(
        f"distribution garbage-collect --delete-untagged: {theirs_s:8.2f}s "
        f"({_rss_text(theirs_rss)})"
    )
    print(
        f"hth-registry gc, delete_untagged, {workers} workers"
        f"{', remove_layer_links' if links else ''}"
        f"{f', REST task ({rest} mode)' if rest else ''}{', S3 (moto)' if s3 else ''}: "
        f"{ours_s:8.2f}s "
        f"(GC itself {result['seconds']:.2f}s; "
        f"{_rss_text(ours_rss, 'of the worker process' if rest else '')})"
    )
    print(
        f"speed-up: {theirs_s / ours_s:.1f}x; blobs deleted {result['blobs_deleted']}, "
        f"manifests deleted {result['manifests_deleted']}; "
        f"same blobs and manifests kept: {'yes' if same else 'NO'}"
    )
    for phase in result["phases"]:  # type: ignore[union-attr]
        print(f"  {phase['name']:<26} {phase['seconds']:7.2f}s  {phase['items']:>8} items")
    if not same:
        raise SystemExit("the two collectors kept different blobs or manifests")


def _rss_text(kib: int, whose: str = "") -> str:
    return (
        f"peak RSS {kib / 1024:.0f} MiB{f' {whose}' if whose else ''}"
        if kib
        else "peak RSS not measured"
    )


if __name__ == "__main__":
    main()
