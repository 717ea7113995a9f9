"""Maintenance tasks over the synthetic tree of `bench/gc_bench.py`: time and peak RSS.

Builds gc_bench's filesystem registry (2,000 repositories, 20,000 manifests, 100,000 blobs;
every tag overwritten once, so half of the manifests are untagged) with its own builder, then
runs each measurement in a child process of its own (wall time and peak RSS of that process,
interpreter and imports included) and prints one line per measurement:

- `gc_dry_run`: our GC with `delete_untagged`, grace period 0, dry run: the baseline usage
  builds on (the same planner and sweeper);
- `usage`: the `usage` task's algorithm with the same options (sizes from the manifests);
- `usage_stat_blobs`: the same with `stat_blobs` (one `stat` per referenced blob).

It checks that usage's `gc_would_free_bytes` is what the GC dry run would free. Measurements
only read the tree, so they share one; one that changes it (retention, later) belongs in
MEASUREMENTS too, and gets a copy of the tree (`fresh_copy`).

    .venv/bin/python bench/usage_bench.py [--repos 2000 --blobs 100000 --manifests 20000]
        [--only usage ...] [--workdir DIR (kept, and reused by the next run)]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from gc_bench import Shape, _timed, build  # noqa: E402


def _options(dry_run: bool = True) -> Any:
    from registry.maintenance.gc.collect import GCOptions

    return GCOptions(dry_run=dry_run, delete_untagged=True, grace_period=timedelta(0))


def _driver(root: Path) -> Any:
    from registry.storage import create_driver

    return create_driver("filesystem", {"rootdirectory": str(root)})


def gc_dry_run(root: Path) -> dict[str, Any]:
    from registry.maintenance.gc.collect import collect_garbage

    result = collect_garbage(_driver(root), _options())
    return {
        "seconds": result.seconds,
        "would_free_bytes": result.bytes_freed + result.upload_bytes_freed,
        "detail": f"{result.blobs_deleted} blobs, {result.manifests_deleted} manifests to delete",
    }


def _usage(root: Path, stat_blobs: bool) -> dict[str, Any]:
    from registry.maintenance.usage import compute_usage

    result = compute_usage(_driver(root), _options(), stat_blobs=stat_blobs)
    return {
        "seconds": result.seconds,
        "would_free_bytes": result.gc_would_free_bytes,
        "detail": f"{len(result.repositories)} repositories, {len(result.namespaces)} "
        f"namespaces, {result.blobs} referenced blobs, {result.total_bytes} bytes",
    }


def usage(root: Path) -> dict[str, Any]:
    return _usage(root, stat_blobs=False)


def usage_stat_blobs(root: Path) -> dict[str, Any]:
    return _usage(root, stat_blobs=True)


@dataclass(frozen=True)
class Measurement:
    run: Callable[[Path], dict[str, Any]]  # in the child process; a JSON-ready result
    changes_tree: bool = False  # then it runs on a copy of the tree


MEASUREMENTS: dict[str, Measurement] = {
    "gc_dry_run": Measurement(gc_dry_run),
    "usage": Measurement(usage),
    "usage_stat_blobs": Measurement(usage_stat_blobs),
}


def fresh_copy(original: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["cp", "-a", str(original), str(target)], check=True)
    return target


def measure(name: str, original: Path, workdir: Path) -> tuple[float, int, dict[str, Any]]:
    """Wall seconds, peak RSS (KiB) and the result of `name` run in a child process."""
    measurement = MEASUREMENTS[name]
    root = fresh_copy(original, workdir / name) if measurement.changes_tree else original
    out = workdir / f"{name}.json"
    command = [sys.executable, __file__, "--run", name, str(root), "--result", str(out)]
    seconds, rss = _timed(command, env=dict(os.environ))
    return seconds, rss, json.loads(out.read_text())


def tree(workdir: Path, shape: Shape) -> Path:
    """gc_bench's tree under `workdir`, built unless a previous run left one of this shape."""
    original, marker = workdir / "original", workdir / "shape.json"
    wanted = json.dumps([shape.repos, shape.blobs, shape.manifests])
    if marker.exists() and marker.read_text() == wanted:
        print(f"reusing the tree in {original}")
        return original
    marker.unlink(missing_ok=True)
    shutil.rmtree(original, ignore_errors=True)
    started = time.monotonic()
    blobs = build(original, shape)
    manifests = shape.repos * max(2, shape.manifests // shape.repos)
    print(
        f"built {shape.repos} repositories, {blobs} blobs, {manifests} manifests "
        f"in {time.monotonic() - started:.1f}s"
    )
    marker.write_text(wanted)
    return original


def bench(workdir: Path, shape: Shape, names: list[str]) -> None:
    original = tree(workdir, shape)
    freed: dict[str, int] = {}
    for name in names:
        seconds, rss, result = measure(name, original, workdir)
        freed[name] = result["would_free_bytes"]
        print(
            f"{name:<18} {seconds:7.2f}s wall ({result['seconds']:.2f}s in the task), "
            f"peak RSS {rss / 1024:4.0f} MiB; would free {result['would_free_bytes']} bytes; "
            f"{result['detail']}"
        )
    if len(set(freed.values())) > 1:
        raise SystemExit(f"the measurements disagree on what a GC would free: {freed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--manifests", type=int, default=20_000)
    parser.add_argument("--only", nargs="+", choices=sorted(MEASUREMENTS), default=None)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the tree here, and reuse it next time (default: a temp dir, removed after)",
    )
    parser.add_argument("--run", nargs=2, metavar=("NAME", "ROOT"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        name, root = args.run
        args.result.write_text(json.dumps(MEASUREMENTS[name].run(Path(root))))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="usage-bench-"))
    try:
        shape = Shape(args.repos, args.blobs, args.manifests)
        bench(workdir, shape, args.only or list(MEASUREMENTS))
    finally:
        if args.workdir is None:
            print("removing the tree (slow where the disk discards each freed block)")
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
